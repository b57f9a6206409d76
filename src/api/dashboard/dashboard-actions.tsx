/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ActionResult, ApiActions, SubscriptionForm } from './api-actions.ts';
import type { NoticeMessage } from './components.tsx';
import type { DashboardOptions } from './dashboard-options.ts';
import { MessagePage } from './pages/sign-in-page.tsx';
import { SubscriptionsPage } from './pages/subscriptions-page.tsx';
import { paths, toLocalPath } from './paths.ts';
import { renderPage } from './render.ts';
import { type DashboardEnv, readForm } from './session-middleware.ts';

// The dashboard's POSTs (session and CSRF token already checked): each becomes one call to the
// REST API, then a redirect (303) to a page that says what happened — so a reload never repeats it.

/** Where to go after an action, with what it did (`done`, and a count `n`). */
function withOutcome(back: string, done: string, n?: number): string {
  const url = new URL(back, 'http://dashboard.invalid');
  url.searchParams.set('done', done);
  if (n === undefined) url.searchParams.delete('n');
  else url.searchParams.set('n', String(n));
  return `${url.pathname}${url.search}`;
}

const asStatus = (status: number): ContentfulStatusCode =>
  (status >= 400 && status <= 599 ? status : 500) as ContentfulStatusCode;

const toErrorNotice = (result: Extract<ActionResult<unknown>, { ok: false }>): NoticeMessage => ({
  tone: 'error',
  text: result.detail,
  details: result.issues,
});

export function createDashboardActions(options: DashboardOptions & { readonly actions: ApiActions }) {
  const { actions, clock } = options;
  const integrationTypes = () => [...options.registry.integrationEvents.keys()].sort();

  const failed = (c: Context, result: Extract<ActionResult<unknown>, { ok: false }>, back: string) =>
    renderPage(
      c,
      <MessagePage title="Not done" text={result.detail} link back={back} />,
      asStatus(result.status),
    );

  /** The subscriptions page again, saying what the API refused (and keeping what was typed). */
  const subscriptionsWith = async (
    c: Context<DashboardEnv>,
    result: Extract<ActionResult<unknown>, { ok: false }>,
    form?: SubscriptionForm,
  ) => {
    const subscriptions = await options.subscriptions.listSubscriptions();
    return renderPage(
      c,
      <SubscriptionsPage
        data={{
          subscriptions,
          integrationTypes: integrationTypes(),
          now: clock.now(),
          ...(form ? { form } : {}),
        }}
        csrf={c.get('csrf')}
        notice={toErrorNotice(result)}
      />,
      asStatus(result.status),
    );
  };

  const setPaused = (paused: boolean) => async (c: Context<DashboardEnv>) => {
    const result = await actions.setPaused(c.req.param('id') ?? '', paused);
    if (!result.ok) return subscriptionsWith(c, result);
    return c.redirect(withOutcome(paths.subscriptions, paused ? 'paused' : 'resumed'), 303);
  };

  return new Hono<DashboardEnv>()
    .post('/deliveries/replay', async (c) => {
      const form = await readForm(c);
      const back = toLocalPath(form.back ?? paths.deliveries);
      const result = await actions.replayAll({
        ...(form.type ? { type: form.type } : {}),
        ...(form.subscription ? { subscription: form.subscription } : {}),
      });
      if (!result.ok) return failed(c, result, back);
      return c.redirect(withOutcome(back, 'replayed-all', result.body.replayed), 303);
    })

    .post('/deliveries/:id/replay', async (c) => {
      const form = await readForm(c);
      const back = toLocalPath(form.back ?? paths.deliveries);
      const result = await actions.replay(c.req.param('id'));
      // 409: it was delivered meanwhile; 200: already due again. Neither is a failure to the operator.
      if (result.ok)
        return c.redirect(withOutcome(back, result.status === 202 ? 'replayed' : 'unchanged'), 303);
      if (result.status === 409) return c.redirect(withOutcome(back, 'unchanged'), 303);
      return failed(c, result, back);
    })

    .post('/subscriptions', async (c) => {
      const form = await readForm(c);
      const typed: SubscriptionForm = {
        type: form.type ?? '',
        url: form.url ?? '',
        retries: form.retries ?? '',
        retryDelay: form.retryDelay ?? '',
      };
      const result = await actions.createSubscription(typed);
      if (!result.ok) return subscriptionsWith(c, result, typed);
      return c.redirect(withOutcome(paths.subscriptions, 'created'), 303);
    })

    .post('/subscriptions/:id/pause', setPaused(true))
    .post('/subscriptions/:id/resume', setPaused(false));
}
