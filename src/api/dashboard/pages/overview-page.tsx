/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { DELIVERY_STATUSES } from '../../../core/delivery-state.ts';
import type { StoreGauges } from '../../../core/metrics-store.ts';
import type { StoredSubscription } from '../../../core/subscription-store.ts';
import { statusLabel, toQuery } from '../components.tsx';
import { formatCount, formatSpan, formatTime } from '../format.ts';
import { Layout, PageHead } from '../layout.tsx';
import { paths } from '../paths.ts';
import { SubscriptionsTable } from './subscriptions-table.tsx';

export interface OverviewData {
  readonly gauges: StoreGauges;
  readonly eventsLastHour: number;
  readonly subscriptions: readonly StoredSubscription[];
  readonly now: number;
}

const STATUS_NOTES = {
  pending: 'due, not yet attempted',
  in_flight: 'being attempted now',
  retrying: 'failed, will be retried',
  delivered: 'until retention purges them',
  dead: 'gave up: replay them',
} as const;

/** The mesh at a glance: deliveries by state, what waits longest, traffic, subscriptions. */
export function OverviewPage(props: { readonly data: OverviewData; readonly csrf: string }) {
  const { gauges, eventsLastHour, subscriptions, now } = props.data;
  const due = gauges.earliestDueAt;
  // From the list the table below shows, so the two always agree.
  const paused = subscriptions.filter((s) => s.pausedAt !== null).length;
  const active = subscriptions.length - paused;
  return (
    <Layout title="Overview" section="overview" csrf={props.csrf}>
      <PageHead title="Overview" lead={`The mesh as its store sees it, at ${formatTime(now)}.`} />
      <section aria-labelledby="deliveries-title">
        <h2 id="deliveries-title">Deliveries per status</h2>
        <ul class="cards">
          {DELIVERY_STATUSES.map((status) => {
            const n = gauges.deliveries[status];
            return (
              <li>
                <a
                  class={`card s-${status}${n > 0 ? ' nonzero' : ''}`}
                  href={`${paths.deliveries}${toQuery({ status })}`}
                >
                  <span class="label">
                    <span class={`dot s-${status}`} />
                    {capitalize(statusLabel(status))}
                  </span>
                  <span class="value">{formatCount(n)}</span>
                  <span class="note">{STATUS_NOTES[status]}</span>
                </a>
              </li>
            );
          })}
        </ul>
      </section>
      <section aria-labelledby="now-title">
        <h2 id="now-title">Right now</h2>
        <ul class="cards">
          <li>
            <div class="card info">
              <span class="label">Oldest due</span>
              <span class="value">{due !== null && due <= now ? formatSpan(now - due) : 'none'}</span>
              <span class="note">
                {due === null
                  ? 'nothing waits to be attempted'
                  : due <= now
                    ? `waiting since ${formatTime(due)}`
                    : `next due in ${formatSpan(due - now)}`}
              </span>
            </div>
          </li>
          <li>
            <a class="card info" href={paths.events}>
              <span class="label">Events in the last hour</span>
              <span class="value">{formatCount(eventsLastHour)}</span>
              <span class="note">domain events accepted</span>
            </a>
          </li>
          <li>
            <a class="card info" href={paths.subscriptions}>
              <span class="label">Subscriptions</span>
              <span class="value">{formatCount(subscriptions.length)}</span>
              <span class="note">
                {formatCount(active)} active · {formatCount(paused)} paused
              </span>
            </a>
          </li>
        </ul>
      </section>
      <section class="panel" aria-labelledby="subscriptions-title">
        <div class="panel-head">
          <h2 id="subscriptions-title">Subscriptions and their state</h2>
          <a href={paths.subscriptions}>Manage subscriptions</a>
        </div>
        <SubscriptionsTable subscriptions={subscriptions} now={now} csrf={null} />
      </section>
    </Layout>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
