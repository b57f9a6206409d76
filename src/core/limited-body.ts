/**
 * Reading a request body with a size limit, on web standards only: the handler routes and the
 * QStash callback read bodies only after the token holds, and then no more than their limit.
 */

export type LimitedBodyResult =
  | { readonly ok: true; readonly bytes: Uint8Array<ArrayBuffer> }
  | { readonly ok: false; readonly reason: 'too_large' };

const DECIMAL = /^\d{1,15}$/;

/**
 * The raw body, or `too_large` as soon as it is known to exceed `maxBytes`: from a declared
 * `Content-Length` without reading a byte, else while streaming — the stream is cancelled at the
 * first chunk past the limit, so a never-ending body costs at most `maxBytes` plus one chunk.
 * @example
 * const body = await readLimitedBody(c.req.raw, 1024 * 1024);
 * if (!body.ok) return new Response(null, { status: 413 });
 */
export async function readLimitedBody(request: Request, maxBytes: number): Promise<LimitedBodyResult> {
  const length = request.headers.get('content-length');
  if (length !== null && request.headers.get('transfer-encoding') === null && DECIMAL.test(length)) {
    if (Number(length) > maxBytes) return { ok: false, reason: 'too_large' };
    // A declared length is enforced by the server's HTTP parser, which never hands over more; this
    // path leaves `request.body` untouched (on Node that getter alone builds a web stream, a
    // sizeable share of a route's CPU). Checked again after reading, for a request built in process.
    const bytes = new Uint8Array(await request.arrayBuffer());
    return bytes.byteLength > maxBytes ? { ok: false, reason: 'too_large' } : { ok: true, bytes };
  }
  if (request.body === null) return { ok: true, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Tells the sender's side to stop; nothing more is pulled from it.
      reader.cancel().catch(() => {});
      return { ok: false, reason: 'too_large' };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}
