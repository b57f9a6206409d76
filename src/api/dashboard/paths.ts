// Where the dashboard's pages are: one place, so every link and form agrees.

export const DASHBOARD = '/dashboard';

export const paths = {
  overview: DASHBOARD,
  signIn: `${DASHBOARD}/sign-in`,
  signOut: `${DASHBOARD}/sign-out`,
  events: `${DASHBOARD}/events`,
  event: (id: string) => `${DASHBOARD}/events/${encodeURIComponent(id)}`,
  deliveries: `${DASHBOARD}/deliveries`,
  replay: (id: string) => `${DASHBOARD}/deliveries/${encodeURIComponent(id)}/replay`,
  replayAll: `${DASHBOARD}/deliveries/replay`,
  subscriptions: `${DASHBOARD}/subscriptions`,
  pause: (id: string) => `${DASHBOARD}/subscriptions/${encodeURIComponent(id)}/pause`,
  resume: (id: string) => `${DASHBOARD}/subscriptions/${encodeURIComponent(id)}/resume`,
  catalog: `${DASHBOARD}/catalog`,
  css: `${DASHBOARD}/assets/dashboard.css`,
  icon: `${DASHBOARD}/assets/icon.svg`,
} as const;

/**
 * A path to come back to after a sign-in or an action: one of the dashboard's own pages, never
 * another origin (`//evil.example`, `/\evil`) — else the overview.
 * @example toLocalPath('/dashboard/deliveries?status=dead') // '/dashboard/deliveries?status=dead'
 */
export function toLocalPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2000) return paths.overview;
  if (value !== DASHBOARD && !value.startsWith(`${DASHBOARD}/`) && !value.startsWith(`${DASHBOARD}?`)) {
    return paths.overview;
  }
  // Resolved against a dummy origin: anything that leaves it, or holds a backslash or a control
  // character some browser might read differently, is refused.
  if (value.includes('\\') || [...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch === '\u007f')) {
    return paths.overview;
  }
  const url = new URL(value, 'http://dashboard.invalid');
  if (url.origin !== 'http://dashboard.invalid') return paths.overview;
  // Dot segments are resolved by now: what leaves the dashboard's paths (`/dashboard/../v1`) goes home.
  if (url.pathname !== DASHBOARD && !url.pathname.startsWith(`${DASHBOARD}/`)) return paths.overview;
  return `${url.pathname}${url.search}`;
}
