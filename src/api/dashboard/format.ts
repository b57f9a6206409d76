// How the dashboard writes numbers and times: the same everywhere, in UTC, independent of the
// server's locale (a Worker has none worth trusting).

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `2026-01-01 12:00:03 UTC`. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A span of time, coarsely: `just now`, `42 s`, `5 min`, `3 h 10 min`, `2 d 4 h`. */
export function formatSpan(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 1) return 'just now';
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** `5 min ago`, `in 5 min`, `just now`. */
export function formatRelative(at: number, now: number): string {
  const span = formatSpan(now - at);
  if (span === 'just now') return span;
  return at <= now ? `${span} ago` : `in ${span}`;
}

/** An attempt's HTTP time: `3 ms`, `1.25 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** JSON text, indented when it parses; as it came otherwise. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
