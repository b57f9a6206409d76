/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { DeliveryStatus } from '../../../core/delivery-state.ts';
import type { DeliveryView, EventView } from '../../../core/event-store.ts';
import {
  CsrfField,
  HttpStatus,
  Notice,
  type NoticeMessage,
  StatusBadge,
  StatusTally,
  When,
} from '../components.tsx';
import { formatDuration, formatTime, prettyJson } from '../format.ts';
import { Layout, PageHead } from '../layout.tsx';
import { paths } from '../paths.ts';

/**
 * One event as the admin sees it: its data, the integration events it became, and for each
 * delivery every attempt with its status, duration, and what the handler answered.
 */
export function EventPage(props: {
  readonly event: EventView;
  readonly now: number;
  readonly csrf: string;
  readonly notice: NoticeMessage | null;
}) {
  const { event, now, csrf } = props;
  const back = paths.event(event.id);
  return (
    <Layout title={`Event ${event.id}`} section="events" csrf={csrf}>
      <PageHead
        title={`Event ${event.id}`}
        lead={
          <span class="lead-line">
            <code>{event.type}</code> from {event.source}
            <StatusTally counts={countStatuses(event)} />
          </span>
        }
      />
      <Notice notice={props.notice} />
      <section class="panel" aria-labelledby="event-title">
        <h2 id="event-title" class="visually-hidden">
          The domain event
        </h2>
        <dl class="facts">
          <div>
            <dt>Type</dt>
            <dd>
              <code>{event.type}</code>
            </dd>
          </div>
          <div>
            <dt>Source</dt>
            <dd>{event.source}</dd>
          </div>
          <div>
            <dt>Received</dt>
            <dd>
              {formatTime(event.receivedAt)}{' '}
              <span class="faint">
                (<When at={event.receivedAt} now={now} />)
              </span>
            </dd>
          </div>
          <div>
            <dt>Occurred</dt>
            <dd>{event.occurredAt ?? <span class="faint">not given</span>}</dd>
          </div>
        </dl>
        <details>
          <summary>Data</summary>
          <pre class="json">{prettyJson(event.data)}</pre>
        </details>
        {event.metadata ? (
          <details>
            <summary>Metadata</summary>
            <pre class="json">{prettyJson(event.metadata)}</pre>
          </details>
        ) : null}
      </section>
      <section class="panel" aria-labelledby="integration-title">
        <div class="panel-head">
          <h2 id="integration-title">Integration events</h2>
          <span class="muted">
            {event.integrationEvents.length === 0
              ? 'its converters published nothing'
              : `${event.integrationEvents.length} published`}
          </span>
        </div>
        {event.integrationEvents.map((ie) => (
          <article class="ie" aria-labelledby={`ie-${ie.id}`}>
            <div class="ie-head">
              <h3 id={`ie-${ie.id}`}>
                <code>{ie.type}</code>
              </h3>
              <span class="id faint">{ie.id}</span>
            </div>
            <dl class="facts">
              <div>
                <dt>Ordering key</dt>
                <dd>
                  {ie.orderingKey === null ? <span class="faint">none</span> : <code>{ie.orderingKey}</code>}
                </dd>
              </div>
            </dl>
            <details>
              <summary>Body sent to subscribers</summary>
              <pre class="json">{prettyJson(ie.data)}</pre>
            </details>
            {ie.deliveries.length === 0 ? (
              <p class="faint">No subscription matched it: no deliveries.</p>
            ) : (
              ie.deliveries.map((d) => <Delivery delivery={d} now={now} csrf={csrf} back={back} />)
            )}
          </article>
        ))}
      </section>
    </Layout>
  );
}

function Delivery(props: {
  readonly delivery: DeliveryView;
  readonly now: number;
  readonly csrf: string;
  readonly back: string;
}) {
  const { delivery: d, now } = props;
  const waiting = d.status === 'pending' || d.status === 'retrying';
  return (
    <section class="delivery" aria-label={`Delivery ${d.id}`}>
      <div class="delivery-head">
        <StatusBadge status={d.status} />
        <div class="grow">
          <span class="id">{d.id}</span>
          <span class="sub">
            to <span class="id">{d.subscriptionId}</span> · <span class="url">{d.url}</span>
          </span>
        </div>
        <span class="muted nowrap">
          {d.attempts.length} {d.attempts.length === 1 ? 'attempt' : 'attempts'}
          {waiting ? (
            <>
              {' '}
              · next <When at={d.nextAttemptAt} now={now} />
            </>
          ) : null}
        </span>
        {d.status === 'dead' ? (
          <form method="post" action={paths.replay(d.id)}>
            <CsrfField token={props.csrf} />
            <input type="hidden" name="back" value={props.back} />
            <button type="submit" class="btn btn-danger btn-small">
              Replay
            </button>
          </form>
        ) : null}
      </div>
      {d.attempts.length === 0 ? (
        <p class="empty">Not attempted yet.</p>
      ) : (
        <div class="attempts">
          <table>
            <caption class="visually-hidden">{`Attempts of delivery ${d.id}`}</caption>
            <thead>
              <tr>
                <th scope="col" class="num c-n">
                  #
                </th>
                <th scope="col" class="c-at">
                  At
                </th>
                <th scope="col" class="c-status">
                  Status
                </th>
                <th scope="col" class="num c-dur">
                  Duration
                </th>
                <th scope="col">Response</th>
              </tr>
            </thead>
            <tbody>
              {d.attempts.map((a) => (
                <tr>
                  <td class="num">{a.number}</td>
                  <td class="nowrap">
                    <time datetime={new Date(a.at).toISOString()}>{formatTime(a.at)}</time>
                  </td>
                  <td>
                    <HttpStatus status={a.status} />
                  </td>
                  <td class="num nowrap">{formatDuration(a.durationMs)}</td>
                  <td>
                    {a.error ? <p class="excerpt">{a.error}</p> : null}
                    {a.responseExcerpt ? (
                      <pre class="excerpt">{a.responseExcerpt}</pre>
                    ) : a.error ? null : (
                      <span class="faint">empty</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function countStatuses(event: EventView): Partial<Record<DeliveryStatus, number>> {
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  for (const ie of event.integrationEvents) {
    for (const d of ie.deliveries) counts[d.status] = (counts[d.status] ?? 0) + 1;
  }
  return counts;
}
