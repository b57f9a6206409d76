import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/processes.ts';
import { ADMIN_TOKEN, type DashboardMesh, startDashboardMesh } from './dashboard-mesh.ts';

// The dashboard in a real headless Chromium (Debian's, driven by playwright-core; never a
// downloaded browser) against the mesh served on loopback. Elements are found by role and
// accessible name — the names DESIGN.md fixes. Screenshots go to test/dashboard/screenshots/.

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

if (!hasChromium) {
  // CI installs it (.ci/run): there a missing browser is a failure, not a skip.
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

describe.skipIf(!hasChromium)(`the dashboard in headless Chromium (${CHROMIUM})`, () => {
  let mesh: DashboardMesh;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every request the page made, from the first navigation on. */
  const requested: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    mesh = await startDashboardMesh();
    for (const id of ['ord-1001', 'ord-1002', 'ord-1003']) await mesh.publish(id, 120.5);
    await mesh.settled();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    context.on('request', (request) => requested.push(request.url()));
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await mesh?.close();
  });

  const statusOf = async (id: string) => (await mesh.deliveries()).find((d) => d.id === id)?.status;
  /** Opens a section from the bar and waits for its page: a click does not wait for the navigation. */
  const open = async (section: string) => {
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: section }).click();
    await page.getByRole('heading', { name: section, level: 1 }).waitFor();
  };
  /** Waits for the page to announce an outcome (role=status) that says `text`. */
  const announced = (text: string) => page.getByRole('status').filter({ hasText: text }).waitFor();

  it('signs in with the admin token (a wrong one shows the form again)', async () => {
    await page.goto(`${mesh.url}/dashboard`);
    await expect(page.getByRole('button', { name: 'Sign in' }).isVisible()).resolves.toBe(true);

    await page.getByLabel('Admin token').fill('certainly-not-the-token');
    const refused = page.waitForResponse(
      (r) => r.url().endsWith('/dashboard/sign-in') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect((await refused).status()).toBe(401);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That is not the admin token.');
    expect(await context.cookies()).toEqual([]);

    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({
      name: 'hookmesh_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/dashboard',
    });

    // Deliveries per status, as the store counts them: 3 delivered, 3 dead.
    const deliveredCard = page.getByRole('link', { name: /^Delivered/ });
    await expect(deliveredCard.textContent()).resolves.toMatch(/Delivered\s*3/);
    await expect(page.getByRole('link', { name: /^Dead/ }).textContent()).resolves.toMatch(/Dead\s*3/);
    await expect(page.getByRole('link', { name: /Events in the last hour/ }).textContent()).resolves.toMatch(
      /3/,
    );
    const subscriptions = page.getByRole('region', { name: 'Subscriptions' }).getByRole('table');
    await expect(subscriptions.getByRole('row').count()).resolves.toBe(3);
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });
  });

  it('finds an event by id and shows its attempts: status, duration, response excerpt', async () => {
    await open('Events');
    await page.getByLabel('Event id').fill('ord-1002');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('heading', { name: 'Event ord-1002', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dashboard/events/ord-1002');

    const attempts = page.getByRole('table', { name: /^Attempts of delivery/ });
    await expect(attempts.count()).resolves.toBe(2);
    const cells = async (n: number) =>
      (await attempts.nth(n).getByRole('row').nth(1).getByRole('cell').allTextContents()).map((t) =>
        t.trim(),
      );
    const texts = [await cells(0), await cells(1)];
    // #, at, status, duration, response
    const delivered = texts.find((row) => row[2] === '200')!;
    const failed = texts.find((row) => row[2] === '500')!;
    expect(delivered[0]).toBe('1');
    expect(delivered[3]).toMatch(/^\d+ ms$|^\d+\.\d\d s$/);
    expect(failed[4]).toContain('handler-failed');
    await expect(page.getByText('dead', { exact: true }).count()).resolves.toBe(1);
    await page.screenshot({ path: join(SHOTS, 'event.png'), fullPage: true });
  });

  it('refuses a replay POST without the CSRF token (403), and nothing changes', async () => {
    const [dead] = await mesh.deliveries({ status: 'dead' });
    // The browser's own session cookie goes with it: only the token is missing.
    const res = await page.request.post(`${mesh.url}/dashboard/deliveries/${dead!.id}/replay`, {
      form: { back: '/dashboard/deliveries' },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('Refused');
    const forged = await page.request.post(`${mesh.url}/dashboard/deliveries/${dead!.id}/replay`, {
      form: { _csrf: 'A'.repeat(43) },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect(await statusOf(dead!.id)).toBe('dead');
    await expect(mesh.deliveries({ status: 'dead' })).resolves.toHaveLength(3);
  });

  it('replays a dead delivery from the deliveries page, and it leaves dead', async () => {
    mesh.failing = false;
    await open('Deliveries');
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=dead/);
    const rows = page.getByRole('region', { name: 'Deliveries' }).getByRole('row');
    await expect(rows.count()).resolves.toBe(4); // the header and 3 dead
    await page.screenshot({ path: join(SHOTS, 'deliveries.png'), fullPage: true });
    const first = rows.nth(1);
    const id = (await first.getByRole('rowheader').locator('.id').first().textContent())!.trim();
    await first.getByRole('button', { name: 'Replay' }).click();
    await announced('Replayed');
    await eventually(
      async () => ((await statusOf(id)) === 'delivered' ? true : undefined),
      10_000,
      'delivered',
    );

    // The dashboard says so too: two dead ones left.
    await page.reload();
    await expect(rows.count()).resolves.toBe(3);
    await expect(page.getByText(id).count()).resolves.toBe(0);
  });

  it('replays every dead delivery of the filter with "Replay all"', async () => {
    await page.getByRole('button', { name: 'Replay all' }).click();
    await announced('Replayed 2 dead deliveries.');
    await mesh.settled();
    await expect(mesh.deliveries({ status: 'dead' })).resolves.toHaveLength(0);
    mesh.failing = true;
  });

  it('creates a subscription, and pauses and resumes it', async () => {
    await open('Subscriptions');
    await page.getByLabel('Type').fill('order.placed.v1');
    await page.getByLabel('URL').fill(`${mesh.url}/webhooks/order.placed.v1`);
    await page.getByLabel('Retries').fill('5');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await announced('Subscription created');
    const row = page.getByRole('row', { name: /created through the API/ });
    const inState = (text: string) => row.getByRole('cell').first().filter({ hasText: text }).waitFor();
    await inState('active');

    await row.getByRole('button', { name: 'Pause' }).click();
    await announced('Paused');
    await inState('paused');
    await expect(row.getByRole('cell').first().textContent()).resolves.toContain('by an operator');
    // The API says so too.
    const listed = await page.request.get(`${mesh.url}/v1/subscriptions`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { subscriptions } = (await listed.json()) as {
      subscriptions: { origin: string; paused: boolean }[];
    };
    expect(subscriptions.find((s) => s.origin === 'api')?.paused).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'subscriptions.png'), fullPage: true });

    await row.getByRole('button', { name: 'Resume' }).click();
    await announced('Resumed');
    await inState('active');
  });

  it('reads on a phone', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    phone.on('request', (request) => requested.push(request.url()));
    await phone.addCookies(await context.cookies());
    const small = await phone.newPage();
    await small.goto(`${mesh.url}/dashboard`);
    await small.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // Nothing but the tables' own scrolling boxes is wider than the screen.
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await small.screenshot({ path: join(SHOTS, 'overview-phone.png'), fullPage: true });
    await small.goto(`${mesh.url}/dashboard/events/ord-1001`);
    await small.screenshot({ path: join(SHOTS, 'event-phone.png'), fullPage: true });
    await phone.close();
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await context.cookies()).toEqual([]);
  });

  it('made no request outside the mesh’s origin', () => {
    const origin = new URL(mesh.url).origin;
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    console.log(`dashboard screenshots: ${SHOTS}`);
  });
});
