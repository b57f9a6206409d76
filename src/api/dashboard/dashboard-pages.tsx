/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { Hono } from 'hono';
import * as v from 'valibot';
import type { DeliveryStatus } from '../../core/delivery-state.ts';
import { toIssues } from '../../core/issues.ts';
import { fromCursor, ListQuerySchema, toCursor } from '../deliveries-routes.ts';
import type { ApiActions } from './api-actions.ts';
import type { NoticeMessage } from './components.tsx';
import { toQuery } from './components.tsx';
import type { DashboardOptions } from './dashboard-options.ts';
import { formatCount } from './format.ts';
import { CatalogPage } from './pages/catalog-page.tsx';
import { DeliveriesPage } from './pages/deliveries-page.tsx';
import { EventPage } from './pages/event-page.tsx';
import { EventsPage } from './pages/events-page.tsx';
import { OverviewPage } from './pages/overview-page.tsx';
import { MessagePage } from './pages/sign-in-page.tsx';
import { SubscriptionsPage } from './pages/subscriptions-page.tsx';
import { paths } from './paths.ts';
import { renderPage } from './render.ts';
import type { DashboardEnv } from './session-middleware.ts';

/** Rows per page: enough to scan, few enough that every page is a handful of index reads. */
export const PAGE_SIZE = 50;

const HOUR_MS = 3_600_000;

/** The dashboard's pages (GET), each one read of the store's ports. */
export function createDashboardPages(options: DashboardOptions & { readonly actions: ApiActions }) {
  const { clock } = options;
  const domainTypes = () => [...options.registry.domainEvents.keys()].sort();
  const integrationTypes = () => [...options.registry.integrationEvents.keys()].sort();

  return new Hono<DashboardEnv>()
    .get('/', async (c) => {
      const now = clock.now();
      const [gauges, eventsLastHour, subscriptions] = await Promise.all([
        options.gauges.readGauges(),
        options.eventSearch.countEventsSince(now - HOUR_MS),
        options.subscriptions.listSubscriptions(),
      ]);
      return renderPage(
        c,
        <OverviewPage data={{ gauges, eventsLastHour, subscriptions, now }} csrf={c.get('csrf')} />,
      );
    })

    .get('/events', async (c) => {
      const now = clock.now();
      const id = c.req.query('id')?.trim() ?? '';
      let missingId: string | null = null;
      if (id !== '') {
        if (await options.events.getEvent(id)) return c.redirect(paths.event(id), 303);
        missingId = id.slice(0, 200);
      }
      const type = c.req.query('type')?.trim().slice(0, 200) || null;
      const cursorText = c.req.query('cursor');
      const cursor = cursorText ? fromCursor(cursorText) : null;
      const rows = await options.eventSearch.listEvents({
        ...(type === null ? {} : { type }),
        limit: PAGE_SIZE + 1,
        ...(cursor === null ? {} : { after: { receivedAt: cursor.createdAt, id: cursor.id } }),
      });
      const events = rows.slice(0, PAGE_SIZE);
      const last = events[events.length - 1];
      const next =
        rows.length > PAGE_SIZE && last
          ? `${paths.events}${toQuery({ type, cursor: toCursor({ createdAt: last.receivedAt, id: last.id }) })}`
          : null;
      return renderPage(
        c,
        <EventsPage
          data={{
            events,
            type,
            domainTypes: domainTypes(),
            missingId,
            next,
            first: cursor ? `${paths.events}${toQuery({ type })}` : null,
            now,
          }}
          csrf={c.get('csrf')}
          notice={null}
        />,
        missingId === null ? 200 : 404,
      );
    })

    .get('/events/:id', async (c) => {
      const id = c.req.param('id');
      const event = await options.events.getEvent(id);
      if (!event) {
        return renderPage(
          c,
          <MessagePage title="No such event" text={`No event has the id “${id}”.`} link />,
          404,
        );
      }
      return renderPage(
        c,
        <EventPage event={event} now={clock.now()} csrf={c.get('csrf')} notice={toNotice(c.req.query())} />,
      );
    })

    .get('/deliveries', async (c) => {
      const now = clock.now();
      const query = c.req.query();
      // The API's own query schema: the same filters, the same refusals, the same cursors.
      const given = Object.fromEntries(
        (['status', 'type', 'subscription', 'cursor'] as const).flatMap((name) => {
          const value = query[name]?.trim();
          return value ? [[name, value]] : [];
        }),
      );
      const parsed = v.safeParse(ListQuerySchema, given);
      const filter = parsed.success ? parsed.output : {};
      const rows = parsed.success
        ? await options.deliveries.listDeliveries({
            ...(filter.status === undefined ? {} : { status: filter.status }),
            ...(filter.type === undefined ? {} : { type: filter.type }),
            ...(filter.subscription === undefined ? {} : { subscriptionId: filter.subscription }),
            ...(filter.cursor === undefined ? {} : { after: filter.cursor }),
            limit: PAGE_SIZE + 1,
          })
        : [];
      const deliveries = rows.slice(0, PAGE_SIZE);
      const last = deliveries[deliveries.length - 1];
      const kept = {
        status: given.status ?? null,
        type: given.type ?? null,
        subscription: given.subscription ?? null,
      };
      const notice: NoticeMessage | null = parsed.success
        ? toNotice(query)
        : {
            tone: 'error',
            text: 'That filter is not valid.',
            details: toIssues(parsed.issues, '').map((i) => `${i.path.slice(1) || 'filter'}: ${i.message}`),
          };
      const subscriptions = await options.subscriptions.listSubscriptions();
      return renderPage(
        c,
        <DeliveriesPage
          data={{
            deliveries,
            filter: {
              status: (filter.status ?? null) as DeliveryStatus | null,
              type: kept.type ?? '',
              subscription: kept.subscription ?? '',
            },
            subscriptions,
            integrationTypes: integrationTypes(),
            self: `${paths.deliveries}${toQuery({ ...kept, cursor: given.cursor ?? null })}`,
            next:
              rows.length > PAGE_SIZE && last
                ? `${paths.deliveries}${toQuery({ ...kept, cursor: toCursor(last) })}`
                : null,
            first: given.cursor ? `${paths.deliveries}${toQuery(kept)}` : null,
            now,
          }}
          csrf={c.get('csrf')}
          notice={notice}
        />,
        parsed.success ? 200 : 400,
      );
    })

    .get('/subscriptions', async (c) => {
      const subscriptions = await options.subscriptions.listSubscriptions();
      return renderPage(
        c,
        <SubscriptionsPage
          data={{ subscriptions, integrationTypes: integrationTypes(), now: clock.now() }}
          csrf={c.get('csrf')}
          notice={toNotice(c.req.query())}
        />,
      );
    })

    .get('/catalog', async (c) => {
      const catalog = await options.actions.readCatalog();
      if (!catalog.ok) {
        return renderPage(c, <MessagePage title="No catalog" text={catalog.detail} link />, 503);
      }
      return renderPage(c, <CatalogPage document={catalog.body} csrf={c.get('csrf')} />);
    });
}

/**
 * What an action's redirect says it did (`?done=replayed&n=3`). Only these fixed sentences: a link
 * cannot make the dashboard say something else.
 */
export function toNotice(query: Readonly<Record<string, string>>): NoticeMessage | null {
  const n = /^[0-9]{1,9}$/.test(query.n ?? '') ? Number(query.n) : 0;
  switch (query.done) {
    case 'replayed':
      return { tone: 'ok', text: 'Replayed: the delivery is pending again, with a fresh retry budget.' };
    case 'unchanged':
      return { tone: 'ok', text: 'Nothing to replay: that delivery is no longer dead.' };
    case 'replayed-all':
      return {
        tone: 'ok',
        text:
          n === 0
            ? 'No dead delivery matched: nothing was replayed.'
            : `Replayed ${formatCount(n)} dead ${n === 1 ? 'delivery' : 'deliveries'}.`,
      };
    case 'paused':
      return { tone: 'ok', text: 'Paused: its deliveries wait until it is resumed.' };
    case 'resumed':
      return { tone: 'ok', text: 'Resumed: what waited is being sent.' };
    case 'created':
      return { tone: 'ok', text: 'Subscription created: it receives events accepted from now on.' };
    default:
      return null;
  }
}
