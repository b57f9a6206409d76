/** The path of a request URL without building a `URL` (this runs for every request). */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}

/** `/webhooks/…`: a handler route, served by the webhook app rather than the API. */
export function isWebhookPath(url: string): boolean {
  const path = url.indexOf('/', url.indexOf('//') + 2);
  return path >= 0 && url.startsWith('/webhooks/', path);
}
