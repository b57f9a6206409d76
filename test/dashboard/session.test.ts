import { describe, expect, it } from 'vitest';
import { toLocalPath } from '../../src/api/dashboard/paths.ts';
import { createSessionKeys, SESSION_TTL_MS } from '../../src/api/dashboard/session.ts';

const TOKEN = 'admin-token-0123456789abcdef-0123456789';
const NOW = Date.UTC(2026, 0, 1);

describe('dashboard sessions', () => {
  it('verifies its own cookie until it expires, 12 hours on', async () => {
    const keys = createSessionKeys(TOKEN);
    const { session, cookie } = await keys.issue(NOW);
    expect(session.expiresAt).toBe(NOW + SESSION_TTL_MS);
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{24}\.[0-9]+\.[A-Za-z0-9_-]{43}$/);
    await expect(keys.verify(cookie, NOW)).resolves.toEqual(session);
    await expect(keys.verify(cookie, NOW + SESSION_TTL_MS - 1)).resolves.toEqual(session);
    await expect(keys.verify(cookie, NOW + SESSION_TTL_MS)).resolves.toBeNull();
  });

  it('refuses a changed cookie, and every cookie once the admin token changes', async () => {
    const keys = createSessionKeys(TOKEN);
    const { session, cookie } = await keys.issue(NOW);
    const [id, , mac] = cookie.split('.') as [string, string, string];
    await expect(keys.verify(`${id}.${session.expiresAt + 86_400_000}.${mac}`, NOW)).resolves.toBeNull();
    await expect(keys.verify(`${cookie}x`, NOW)).resolves.toBeNull();
    await expect(keys.verify(undefined, NOW)).resolves.toBeNull();
    await expect(createSessionKeys(`${TOKEN}-rotated`).verify(cookie, NOW)).resolves.toBeNull();
  });

  it('binds the CSRF token to the session', async () => {
    const keys = createSessionKeys(TOKEN);
    const a = await keys.issue(NOW);
    const b = await keys.issue(NOW);
    const token = await keys.csrfToken(a.session);
    await expect(keys.verifyCsrf(a.session, token)).resolves.toBe(true);
    await expect(keys.verifyCsrf(b.session, token)).resolves.toBe(false);
    await expect(keys.verifyCsrf(a.session, undefined)).resolves.toBe(false);
    await expect(keys.verifyCsrf(a.session, '')).resolves.toBe(false);
    await expect(
      keys.verifyCsrf(
        a.session,
        token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      ),
    ).resolves.toBe(false);
    // The session's MAC is not a CSRF token: the two are signed under different labels.
    await expect(keys.verifyCsrf(a.session, a.cookie.split('.')[2])).resolves.toBe(false);
  });
});

describe('toLocalPath', () => {
  it('keeps the dashboard’s own pages and sends everything else to the overview', () => {
    expect(toLocalPath('/dashboard/deliveries?status=dead&type=order.*')).toBe(
      '/dashboard/deliveries?status=dead&type=order.*',
    );
    expect(toLocalPath('/dashboard')).toBe('/dashboard');
    for (const bad of [
      '//evil.example',
      'https://evil.example/dashboard',
      '/dashboard/../v1/events',
      '/\\evil',
      '/dashboard\\..\\x',
      '/dashboard/\tx',
      42,
      undefined,
    ]) {
      const kept = toLocalPath(bad);
      expect(kept === '/dashboard' || kept.startsWith('/dashboard/')).toBe(true);
      expect(kept).not.toContain('evil');
    }
    expect(toLocalPath('/dashboard/../v1/events')).toBe('/dashboard');
  });
});
