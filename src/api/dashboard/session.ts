// The dashboard's session and CSRF tokens: stateless, signed with a key derived from the admin
// token (HKDF, then HMAC-SHA256 through WebCrypto), so they work on every runtime and across
// processes without a session table, and rotating the admin token signs everyone out.

const encoder = new TextEncoder();

/** Long enough for a working day; a stolen cookie stops working by the next. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface Session {
  /** Random, per sign-in; the CSRF token is bound to it. */
  readonly id: string;
  readonly expiresAt: number;
}

export interface SessionKeys {
  /** A new session's cookie value. */
  issue(now: number): Promise<{ readonly session: Session; readonly cookie: string }>;
  /** The session a cookie value carries, when its MAC holds and it has not expired; else null. */
  verify(cookie: string | undefined, now: number): Promise<Session | null>;
  /** The CSRF token every state-changing form of this session carries. */
  csrfToken(session: Session): Promise<string>;
  /** Whether a submitted CSRF token is this session's (compared by WebCrypto, in constant time). */
  verifyCsrf(session: Session, token: string | undefined): Promise<boolean>;
}

/**
 * Session and CSRF tokens keyed by the admin token. Cookie value: `<id>.<expiresAt>.<mac>`.
 * @example const keys = createSessionKeys(adminToken); const { cookie } = await keys.issue(Date.now());
 */
export function createSessionKeys(adminToken: string, ttlMs: number = SESSION_TTL_MS): SessionKeys {
  let key: Promise<CryptoKey> | undefined;
  const hmacKey = () => {
    key ??= deriveKey(adminToken);
    return key;
  };
  const sign = async (label: string, message: string) =>
    toBase64Url(
      new Uint8Array(
        await crypto.subtle.sign('HMAC', await hmacKey(), encoder.encode(`${label}:${message}`)),
      ),
    );
  const check = async (label: string, message: string, mac: string) => {
    const bytes = fromBase64Url(mac);
    // An HMAC-SHA256 is 32 bytes; anything else is not one of ours (and WebCrypto compares the rest).
    if (bytes === null || bytes.length !== 32) return false;
    return crypto.subtle.verify('HMAC', await hmacKey(), bytes, encoder.encode(`${label}:${message}`));
  };

  return {
    async issue(now) {
      const session: Session = {
        id: toBase64Url(crypto.getRandomValues(new Uint8Array(18))),
        expiresAt: now + ttlMs,
      };
      const body = `${session.id}.${session.expiresAt}`;
      return { session, cookie: `${body}.${await sign('session', body)}` };
    },

    async verify(cookie, now) {
      if (cookie === undefined) return null;
      const match = /^([A-Za-z0-9_-]{24})\.([0-9]{1,15})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
      if (!match) return null;
      const [, id, expires, mac] = match as unknown as [string, string, string, string];
      if (!(await check('session', `${id}.${expires}`, mac))) return null;
      const expiresAt = Number(expires);
      return expiresAt > now ? { id, expiresAt } : null;
    },

    csrfToken: (session) => sign('csrf', session.id),

    async verifyCsrf(session, token) {
      if (token === undefined || !/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
      return check('csrf', session.id, token);
    },
  };
}

/** HKDF over the admin token, with a purpose of its own: the token itself never signs anything. */
async function deriveKey(adminToken: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(adminToken), 'HKDF', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: encoder.encode('hookmesh-dashboard'),
      info: encoder.encode('session and csrf v1'),
    },
    material,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign', 'verify'],
  );
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}
