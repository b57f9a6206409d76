import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Clock } from '../../core/clock.ts';
import { DASHBOARD, paths } from './paths.ts';
import type { Session, SessionKeys } from './session.ts';

export type DashboardEnv = {
  Variables: {
    session: Session;
    /** This session's CSRF token, for the forms of the page being rendered. */
    csrf: string;
  };
};

/**
 * Over https the cookie is `Secure` and carries the `__Secure-` prefix (browsers then refuse it
 * from plain http). A proxy that ends TLS says so with `X-Forwarded-Proto`; believing it can only
 * add the flag, never remove it.
 */
function isHttps(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}

const cookieName = (c: Context) => (isHttps(c) ? '__Secure-hookmesh_session' : 'hookmesh_session');

/** Sets a new session's cookie: HttpOnly, SameSite=Strict, Secure over https, for the dashboard only. */
export async function startSession(c: Context, keys: SessionKeys, clock: Clock): Promise<void> {
  const now = clock.now();
  const { session, cookie } = await keys.issue(now);
  setCookie(c, cookieName(c), cookie, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(c),
    path: DASHBOARD,
    maxAge: Math.floor((session.expiresAt - now) / 1000),
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, cookieName(c), { path: DASHBOARD, secure: isHttps(c), httpOnly: true, sameSite: 'Strict' });
}

/**
 * A valid session, or: a page request goes to the sign-in form (and comes back after), anything
 * else is refused (403) with nothing done.
 */
export function requireSession(
  keys: SessionKeys,
  clock: Clock,
  refuse: (c: Context, status: 403, text: string) => Response | Promise<Response>,
): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const session = await keys.verify(getCookie(c, cookieName(c)), clock.now());
    if (!session) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') {
        const url = new URL(c.req.url);
        const back = `${url.pathname}${url.search}`;
        return c.redirect(
          back === DASHBOARD ? paths.signIn : `${paths.signIn}?next=${encodeURIComponent(back)}`,
          303,
        );
      }
      return refuse(c, 403, 'Your session has ended. Sign in again, then repeat what you did.');
    }
    c.set('session', session);
    c.set('csrf', await keys.csrfToken(session));
    await next();
  };
}

/** A state-changing request must carry this session's CSRF token (`_csrf`), or nothing happens (403). */
export function requireCsrf(
  keys: SessionKeys,
  refuse: (c: Context, status: 403, text: string) => Response | Promise<Response>,
): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const form = await readForm(c);
    if (!(await keys.verifyCsrf(c.get('session'), form._csrf))) {
      return refuse(
        c,
        403,
        'This form is out of date or did not come from the dashboard. Reload the page and try again.',
      );
    }
    await next();
  };
}

/**
 * A form's text fields (files dropped; a field given twice keeps its first value). Hono caches the
 * parsed body, so middleware and handler may both read it.
 */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) return {};
  let body: Awaited<ReturnType<typeof c.req.parseBody>>;
  try {
    body = await c.req.parseBody({ all: true });
  } catch {
    // A malformed body is an empty form: the caller answers 401 or 403, never 500.
    return {};
  }
  const form: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') form[name] = first;
  }
  return form;
}
