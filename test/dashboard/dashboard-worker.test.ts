import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorker } from '../../worker/build.ts';
import { COMPATIBILITY_DATE, migratePersistedD1 } from '../support/d1.ts';

// The dashboard in workerd: the Worker bundle (`npm run build:worker`) on miniflare with D1 —
// a POSTed sign-in, then the overview rendered from the store, as on Node.

const PUBLIC_URL = 'https://hookmesh.example.com';
const PRODUCER_TOKEN = 'billing-token-0123456789abcdef-0123456789';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef-0123456789';

describe('the dashboard inside workerd (miniflare, D1)', () => {
  let dir: string;
  let mf: Miniflare;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-dashboard-worker-'));
    const bundle = await buildWorker({ outfile: join(dir, 'worker.js') });
    await migratePersistedD1(join(dir, 'd1'));
    mf = new Miniflare({
      modules: [{ type: 'ESModule', path: bundle.path }],
      modulesRoot: dirname(bundle.path),
      compatibilityDate: COMPATIBILITY_DATE,
      d1Databases: { DB: 'hookmesh' },
      d1Persist: join(dir, 'd1'),
      bindings: {
        NODE_ENV: 'production',
        HOOKMESH_PUBLIC_URL: PUBLIC_URL,
        HOOKMESH_PRODUCER_TOKENS: `billing:${PRODUCER_TOKEN}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
        QSTASH_TOKEN: 'qstash-token-for-tests',
        // Nothing listens there: publishes fail and the delivery stays pending, which is all this needs.
        QSTASH_URL: 'http://127.0.0.1:9',
        QSTASH_CURRENT_SIGNING_KEY: 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r',
        QSTASH_NEXT_SIGNING_KEY: 'sig_next_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs',
      },
    });
    await mf.ready;
  }, 60_000);

  afterAll(async () => {
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in with a POST and renders the overview from D1', async () => {
    const accepted = await mf.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'worker-evt-1',
        type: 'OrderCreated',
        data: { order: { id: 'o-1', customerId: 'c-1', total: 42.5, currency: 'EUR' } },
      }),
    });
    expect(accepted.status).toBe(202);
    await accepted.arrayBuffer();

    const wrong = await mf.dispatchFetch(`${PUBLIC_URL}/dashboard/sign-in`, {
      method: 'POST',
      body: new URLSearchParams({ token: PRODUCER_TOKEN, next: '/dashboard' }),
      redirect: 'manual',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    await wrong.arrayBuffer();

    const signIn = await mf.dispatchFetch(`${PUBLIC_URL}/dashboard/sign-in`, {
      method: 'POST',
      body: new URLSearchParams({ token: ADMIN_TOKEN, next: '/dashboard' }),
      redirect: 'manual',
    });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get('location')).toBe('/dashboard');
    const setCookie = signIn.headers.get('set-cookie') ?? '';
    await signIn.arrayBuffer();
    // Over https: the __Secure- name and the Secure flag.
    expect(setCookie).toMatch(
      /^__Secure-hookmesh_session=[^;]+; Max-Age=43200; Path=\/dashboard; HttpOnly; Secure; SameSite=Strict/,
    );

    const overview = await mf.dispatchFetch(`${PUBLIC_URL}/dashboard`, {
      headers: { cookie: setCookie.split(';')[0]! },
      redirect: 'manual',
    });
    expect(overview.status).toBe(200);
    expect(overview.headers.get('content-type')).toMatch(/^text\/html/);
    expect(overview.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await overview.text();
    expect(html).toMatch(/^<!doctype html><html lang="en">/);
    expect(html).toContain('<h1>Overview</h1>');
    expect(html).toMatch(
      /href="\/dashboard\/deliveries\?status=pending"[^>]*>.*?<span class="value">1<\/span>/,
    );
    expect(html).toMatch(/Events in the last hour<\/span><span class="value">1<\/span>/);
    expect(html).toContain('example-billing');
    expect(html).not.toMatch(/https?:\/\/(?!hookmesh\.example\.com)[^"]*\.(css|js|woff2?)/);

    const css = await mf.dispatchFetch(`${PUBLIC_URL}/dashboard/assets/dashboard.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    await css.arrayBuffer();

    const event = await mf.dispatchFetch(`${PUBLIC_URL}/dashboard/events/worker-evt-1`, {
      headers: { cookie: setCookie.split(';')[0]! },
    });
    expect(event.status).toBe(200);
    expect(await event.text()).toContain('<h1>Event worker-evt-1</h1>');
  });
});
