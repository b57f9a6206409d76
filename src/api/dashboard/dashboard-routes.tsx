/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { bodySizeLimit } from '../admin-input.ts';
import { createApiActions } from './api-actions.ts';
import { createDashboardActions } from './dashboard-actions.tsx';
import type { DashboardOptions } from './dashboard-options.ts';
import { createDashboardPages } from './dashboard-pages.tsx';
import { MessagePage, SignInPage } from './pages/sign-in-page.tsx';
import { paths, toLocalPath } from './paths.ts';
import { renderPage } from './render.ts';
import { createSessionKeys } from './session.ts';
import {
  type DashboardEnv,
  endSession,
  readForm,
  requireCsrf,
  requireSession,
  startSession,
} from './session-middleware.ts';
import { DASHBOARD_CSS, ICON_SVG } from './styles.ts';

export type { DashboardOptions } from './dashboard-options.ts';

// No script at all, styles and images from the mesh only, forms posting only to it, never framed.
const CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * `GET /dashboard`: the operator's pages, server-rendered, behind a sign-in with the admin token.
 * @example app.route('/dashboard', createDashboardRoutes({ adminToken, auth, events, ... }));
 */
export function createDashboardRoutes(options: DashboardOptions) {
  const { clock } = options;
  const app = new Hono<DashboardEnv>();

  app.use(async (c, next) => {
    await next();
    const h = c.res.headers;
    h.set('content-security-policy', CSP);
    h.set('x-content-type-options', 'nosniff');
    h.set('x-frame-options', 'DENY');
    h.set('referrer-policy', 'no-referrer');
    if (!h.has('cache-control')) h.set('cache-control', 'no-store');
  });

  // `/dashboard/` is the overview too.
  app.use(async (c, next) => {
    if (new URL(c.req.url).pathname === `${paths.overview}/`) return c.redirect(paths.overview, 308);
    await next();
  });

  // The stylesheet and the mark: public, so the sign-in page has them too.
  app.get('/assets/dashboard.css', (c) =>
    c.body(DASHBOARD_CSS, 200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'public, max-age=3600',
    }),
  );
  app.get('/assets/icon.svg', (c) =>
    c.body(ICON_SVG, 200, { 'content-type': 'image/svg+xml', 'cache-control': 'public, max-age=86400' }),
  );

  const message = (c: Context, status: ContentfulStatusCode, title: string, text: string, link = true) =>
    renderPage(c, <MessagePage title={title} text={text} link={link} />, status);

  const adminToken = options.adminToken;
  if (adminToken === null) {
    app.all('*', (c) =>
      message(
        c,
        503,
        'Dashboard unavailable',
        'No admin token is configured (HOOKMESH_ADMIN_TOKEN), so nobody can sign in.',
        false,
      ),
    );
    return app;
  }

  const keys = createSessionKeys(adminToken, options.sessionTtlMs);
  const refuse = (c: Context, status: 403, text: string) => message(c, status, 'Refused', text);

  app.get('/sign-in', (c) =>
    renderPage(c, <SignInPage next={toLocalPath(c.req.query('next') ?? paths.overview)} error={null} />),
  );
  app.post('/sign-in', bodySizeLimit(), async (c) => {
    const form = await readForm(c);
    const next = toLocalPath(form.next ?? paths.overview);
    const principal = typeof form.token === 'string' ? options.auth.identify(form.token.trim()) : null;
    if (principal?.kind !== 'admin') {
      // Says nothing about what was typed, or whether it is some other kind of token.
      return renderPage(c, <SignInPage next={next} error="That is not the admin token." />, 401);
    }
    await startSession(c, keys, clock);
    return c.redirect(next, 303);
  });

  app.use(requireSession(keys, clock, refuse));
  app.post('*', bodySizeLimit(), requireCsrf(keys, refuse));

  app.post('/sign-out', (c) => {
    endSession(c);
    return c.redirect(paths.signIn, 303);
  });

  const actions = createApiActions(options.api, adminToken);
  app.route('/', createDashboardPages({ ...options, actions }));
  app.route('/', createDashboardActions({ ...options, actions }));
  // Last: what no route above answered (a sub-app's notFound would not apply once mounted).
  app.all('*', (c) => message(c, 404, 'Not found', 'There is no such page in the dashboard.'));
  return app;
}
