import type { Context, MiddlewareHandler } from 'hono';
import { problem } from './problem.ts';

export type Principal = { readonly kind: 'producer'; readonly name: string } | { readonly kind: 'admin' };

export interface TokenConfig {
  readonly producers: readonly { readonly name: string; readonly token: string }[];
  readonly admin: string | null;
}

export interface Authenticator {
  /** Who holds this bearer token, or null. Compares in constant time, against every token. */
  identify(token: string): Principal | null;
}

/**
 * @example const auth = createAuthenticator({ producers: [{ name: 'billing', token }], admin });
 */
export function createAuthenticator(config: TokenConfig): Authenticator {
  const entries: { principal: Principal; token: string }[] = [
    ...config.producers.map((p) => ({
      principal: { kind: 'producer', name: p.name } as const,
      token: p.token,
    })),
    ...(config.admin ? [{ principal: { kind: 'admin' } as const, token: config.admin }] : []),
  ];
  return {
    identify(token) {
      let found: Principal | null = null;
      // No early exit: the time taken does not depend on which token matched, or how far.
      for (const entry of entries) {
        if (constantTimeEqual(token, entry.token) && found === null) found = entry.principal;
      }
      return found;
    },
  };
}

/**
 * Compares UTF-16 code units, every one of `b`'s whatever differs: two strings are equal exactly
 * when their code units are (no encoding to bytes on every request).
 */
function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = a.length || 1;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i % n) || 0) ^ b.charCodeAt(i);
  return diff === 0;
}

export type AuthEnv = { Variables: { principal: Principal } };

/**
 * Who presents the request's bearer token, when it is of an allowed kind; otherwise the problem
 * to answer: none or unknown → 401, the other kind → 403. Tokens never reach a log line.
 * @example const principal = authenticate(c, auth, ['producer']); if (principal instanceof Response) return principal;
 */
export function authenticate(
  c: Context,
  auth: Authenticator,
  allowed: readonly Principal['kind'][],
): Principal | Response {
  const header = c.req.header('authorization');
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const principal = match ? auth.identify(match[1]!) : null;
  if (!principal) {
    return problem(
      c,
      401,
      'unauthorized',
      'a valid bearer token is required',
      {},
      { 'www-authenticate': 'Bearer' },
    );
  }
  if (!allowed.includes(principal.kind)) {
    return problem(c, 403, 'forbidden', `this route takes a ${allowed.join(' or ')} token`);
  }
  return principal;
}

/** `authenticate` as middleware: sets `principal` for the handlers after it. */
export function requireAuth(
  auth: Authenticator,
  allowed: readonly Principal['kind'][],
): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const principal = authenticate(c, auth, allowed);
    if (principal instanceof Response) return principal;
    c.set('principal', principal);
    await next();
  };
}
