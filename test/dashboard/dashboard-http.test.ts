import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/processes.ts';
import { ADMIN_TOKEN, type DashboardMesh, PRODUCER_TOKEN, startDashboardMesh } from './dashboard-mesh.ts';

// The dashboard over real HTTP, without a browser: the session cookie's flags, the sign-in's
// refusals, CSRF, redirects, and what the forms change — checked against the REST API.

let mesh: DashboardMesh;

beforeAll(async () => {
  mesh = await startDashboardMesh();
  for (const id of ['h-1', 'h-2', 'h-3']) await mesh.publish(id);
  await mesh.settled();
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

async function signIn(headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string }> {
  const res = await fetch(`${mesh.url}/dashboard/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers,
    body: form({ token: ADMIN_TOKEN, next: '/dashboard' }),
  });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

const get = (path: string, cookie?: string) =>
  fetch(`${mesh.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

describe('sign-in', () => {
  it('sends a page request without a session to the sign-in form, and back after it', async () => {
    const overview = await get('/dashboard');
    expect(overview.status).toBe(303);
    expect(overview.headers.get('location')).toBe('/dashboard/sign-in');
    const deep = await get('/dashboard/deliveries?status=dead');
    expect(deep.headers.get('location')).toBe(
      `/dashboard/sign-in?next=${encodeURIComponent('/dashboard/deliveries?status=dead')}`,
    );
    const page = await get('/dashboard/sign-in');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<label for="admin-token">Admin token</label>');
    expect(html).toMatch(/<button type="submit" class="btn">\s*Sign in\s*<\/button>/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a wrong token, or a producer token, with the form again (401) and no cookie', async () => {
    for (const token of ['not-the-token', PRODUCER_TOKEN, '']) {
      const res = await fetch(`${mesh.url}/dashboard/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        body: form({ token, next: '/dashboard' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      const html = await res.text();
      expect(html).toContain('That is not the admin token.');
      expect(html).toContain('Admin token');
      if (token) expect(html).not.toContain(token);
    }
  });

  it('answers a malformed multipart body with the form again (401), never a 500', async () => {
    const res = await fetch(`${mesh.url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nnot a part header\r\n',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('sets an HttpOnly, SameSite=Strict, expiring cookie for /dashboard; Secure with a __Secure- name over https', async () => {
    const plain = await signIn();
    expect(plain.setCookie).toMatch(/^hookmesh_session=/);
    expect(plain.setCookie).toContain('HttpOnly');
    expect(plain.setCookie).toContain('SameSite=Strict');
    expect(plain.setCookie).toContain('Path=/dashboard');
    expect(plain.setCookie).toContain('Max-Age=43200');
    expect(plain.setCookie).not.toContain('Secure');

    const https = await signIn({ 'x-forwarded-proto': 'https' });
    expect(https.setCookie).toMatch(/^__Secure-hookmesh_session=/);
    expect(https.setCookie).toContain('Secure');
    expect(https.setCookie).toContain('HttpOnly');
  });

  it('never redirects off the dashboard after signing in', async () => {
    for (const next of [
      '//evil.example/x',
      'https://evil.example',
      '/\\evil.example',
      '/v1/events',
      '/dashboardx',
    ]) {
      const res = await fetch(`${mesh.url}/dashboard/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        body: form({ token: ADMIN_TOKEN, next }),
      });
      expect(res.headers.get('location')).toBe('/dashboard');
    }
  });

  it('ignores a tampered or foreign cookie', async () => {
    const { cookie } = await signIn();
    const [name, value] = cookie.split('=') as [string, string];
    const [id, expires, mac] = value.split('.') as [string, string, string];
    for (const forged of [
      `${name}=${id}.${Number(expires) + 1000}.${mac}`,
      `${name}=${id.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}.${expires}.${mac}`,
      `${name}=garbage`,
    ]) {
      const res = await get('/dashboard', forged);
      expect(res.status).toBe(303);
    }
    expect((await get('/dashboard', cookie)).status).toBe(200);
  });

  it('signs out (with the CSRF token) by clearing the cookie', async () => {
    const { cookie } = await signIn();
    const csrf = csrfOf(await (await get('/dashboard', cookie)).text());
    const res = await fetch(`${mesh.url}/dashboard/sign-out`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie },
      body: form({ _csrf: csrf }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/sign-in');
    expect(res.headers.get('set-cookie')).toMatch(/^hookmesh_session=; Max-Age=0/);
  });
});

describe('state-changing forms', () => {
  it('refuses a replay without the session, without the CSRF token, or with another session’s (403), and changes nothing', async () => {
    const [dead] = await mesh.deliveries({ status: 'dead' });
    expect(dead).toBeDefined();
    const a = await signIn();
    const b = await signIn();
    const csrfOfB = csrfOf(await (await get('/dashboard', b.cookie)).text());
    const attempts: [string | undefined, Record<string, string>][] = [
      [undefined, { _csrf: csrfOfB }],
      [a.cookie, {}],
      [a.cookie, { _csrf: '' }],
      [a.cookie, { _csrf: 'x'.repeat(43) }],
      [a.cookie, { _csrf: csrfOfB }],
    ];
    for (const [cookie, fields] of attempts) {
      const res = await fetch(`${mesh.url}/dashboard/deliveries/${dead!.id}/replay`, {
        method: 'POST',
        redirect: 'manual',
        headers: cookie ? { cookie } : {},
        body: form(fields),
      });
      expect(res.status).toBe(403);
    }
    const after = await mesh.deliveries({ status: 'dead' });
    expect(after.map((d) => d.id)).toContain(dead!.id);
  });

  it('replays one dead delivery with the token, and it leaves dead', async () => {
    mesh.failing = false;
    try {
      const [dead] = await mesh.deliveries({ status: 'dead' });
      const { cookie } = await signIn();
      const csrf = csrfOf(await (await get('/dashboard/deliveries?status=dead', cookie)).text());
      const res = await fetch(`${mesh.url}/dashboard/deliveries/${dead!.id}/replay`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie },
        body: form({ _csrf: csrf, back: '/dashboard/deliveries?status=dead' }),
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/dashboard/deliveries?status=dead&done=replayed');
      await eventually(
        async () =>
          (await mesh.deliveries()).find((d) => d.id === dead!.id)?.status === 'delivered' ? true : undefined,
        10_000,
        'the replayed delivery to be delivered',
      );
      const page = await (await get('/dashboard/deliveries?status=dead&done=replayed', cookie)).text();
      expect(page).toContain('Replayed: the delivery is pending again');
    } finally {
      mesh.failing = true;
    }
  });

  it('creates a subscription through the API’s rules: refusals are shown with what was typed', async () => {
    const { cookie } = await signIn();
    const csrf = csrfOf(await (await get('/dashboard/subscriptions', cookie)).text());
    const refused = await fetch(`${mesh.url}/dashboard/subscriptions`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie },
      body: form({
        _csrf: csrf,
        type: 'Not A Type',
        url: 'ftp://example.com/x',
        retries: '99',
        retryDelay: '',
      }),
    });
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('role="alert"');
    expect(html).toMatch(/type: type must be an integration event type/);
    expect(html).toMatch(/retries: retries must be from 0 to 20/);
    expect(html).toContain('value="ftp://example.com/x"');

    const created = await fetch(`${mesh.url}/dashboard/subscriptions`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie },
      body: form({
        _csrf: csrf,
        type: 'order.*',
        url: `${mesh.url}/webhooks/order.placed.v1`,
        retries: '3',
        retryDelay: '',
      }),
    });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/dashboard/subscriptions?done=created');
    const list = await fetch(`${mesh.url}/v1/subscriptions`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { subscriptions } = (await list.json()) as {
      subscriptions: { type: string; retries: number; origin: string }[];
    };
    expect(subscriptions).toContainEqual(
      expect.objectContaining({ type: 'order.*', retries: 3, origin: 'api' }),
    );
  });
});

describe('pages', () => {
  it('shows the overview’s counts as the store has them', async () => {
    const { cookie } = await signIn();
    const res = await get('/dashboard', cookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    const rows = await mesh.deliveries();
    const count = (status: string) => rows.filter((d) => d.status === status).length;
    const card = (status: string) =>
      new RegExp(
        `href="/dashboard/deliveries\\?status=${status}"[^>]*>.*?<span class="value">([0-9,]+)</span>`,
      ).exec(html)?.[1];
    expect(card('delivered')).toBe(String(count('delivered')));
    expect(card('dead')).toBe(String(count('dead')));
    expect(html).toMatch(/Events in the last hour<\/span><span class="value">3<\/span>/);
  });

  it('pages through events by cursor, and filters them by type', async () => {
    for (let i = 0; i < 55; i++) await mesh.publish(`page-${String(i).padStart(2, '0')}`);
    const { cookie } = await signIn();
    const first = await (await get('/dashboard/events', cookie)).text();
    const links = (html: string) =>
      [...html.matchAll(/<a class="id" href="\/dashboard\/events\/([^"]+)"/g)].map((m) => m[1]);
    expect(links(first)).toHaveLength(50);
    expect(links(first)[0]).toBe('page-54');
    const next = /href="([^"]+)" rel="next"/.exec(first)?.[1]?.replaceAll('&amp;', '&');
    expect(next).toBeDefined();
    const second = await (await get(next!, cookie)).text();
    expect(links(second)).toHaveLength(8);
    expect(second).not.toContain('rel="next"');
    expect(new Set([...links(first), ...links(second)]).size).toBe(58);

    const none = await (await get('/dashboard/events?type=OrderShipped', cookie)).text();
    expect(links(none)).toHaveLength(0);
    expect(none).toContain('No OrderShipped events.');
  });

  it('finds an event by id, and says so when none has it', async () => {
    const { cookie } = await signIn();
    const found = await get('/dashboard/events?id=h-2', cookie);
    expect(found.status).toBe(303);
    expect(found.headers.get('location')).toBe('/dashboard/events/h-2');
    const missing = await get('/dashboard/events?id=nope', cookie);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('No event has the id “nope”.');
  });

  it('shows each integration event’s ordering key on the event’s page, and “none” without one', async () => {
    const { cookie } = await signIn();
    const res = await get('/dashboard/events/h-1', cookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    const keys = [
      ...html.matchAll(/<h3 id="ie-[^"]+"><code>([^<]+)<\/code>.*?<dt>Ordering key<\/dt><dd>(.*?)<\/dd>/gs),
    ].map((m) => [m[1], m[2]]);
    expect(keys).toEqual([
      ['order.placed.v1', '<code>o-h-1</code>'],
      ['order.audited.v1', '<span class="faint">none</span>'],
    ]);
  });

  it('refuses an invalid delivery filter with the API’s own words', async () => {
    const { cookie } = await signIn();
    const res = await get('/dashboard/deliveries?status=bogus&type=Nope', cookie);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('status must be one of pending, in_flight, retrying, delivered, dead');
  });

  it('shows a subscription’s filter in the list, cut short when long', async () => {
    const create = (filter: unknown) =>
      fetch(`${mesh.url}/v1/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        // A type nothing here publishes: the other tests' deliveries stay as they are.
        body: JSON.stringify({ type: 'filtered.only.v1', url: 'https://filtered.example.com/', filter }),
      });
    expect((await create({ currency: 'EUR', total: { $gte: 100 } })).status).toBe(201);
    const many = Array.from({ length: 60 }, (_, i) => `customer-${i}`);
    expect((await create({ customerId: { $in: many } })).status).toBe(201);
    const { cookie } = await signIn();
    const html = await (await get('/dashboard/subscriptions', cookie)).text();
    expect(html).toContain(
      'filter <code>{&quot;currency&quot;:&quot;EUR&quot;,&quot;total&quot;:{&quot;$gte&quot;:100}}</code>',
    );
    expect(html).toMatch(
      /filter <code>\{&quot;customerId&quot;:\{&quot;\$in&quot;:\[&quot;customer-0&quot;[^<]*…<\/code>/,
    );
  });

  it('renders the event catalog from /openapi.json', async () => {
    const { cookie } = await signIn();
    const html = await (await get('/dashboard/catalog', cookie)).text();
    expect(html).toContain('Event catalog');
    expect(html).toContain('order.audited.v1');
    expect(html).toContain('OrderPlaced');
  });
});
