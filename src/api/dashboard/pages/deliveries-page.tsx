/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { DeliverySummary } from '../../../core/delivery-admin-store.ts';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../../core/delivery-state.ts';
import type { StoredSubscription } from '../../../core/subscription-store.ts';
import {
  CsrfField,
  Notice,
  type NoticeMessage,
  Pager,
  StatusBadge,
  statusLabel,
  TableBox,
  When,
} from '../components.tsx';
import { Layout, PageHead } from '../layout.tsx';
import { paths } from '../paths.ts';

export interface DeliveriesFilterForm {
  readonly status: DeliveryStatus | null;
  readonly type: string;
  readonly subscription: string;
}

export interface DeliveriesData {
  readonly deliveries: readonly DeliverySummary[];
  readonly filter: DeliveriesFilterForm;
  readonly subscriptions: readonly StoredSubscription[];
  readonly integrationTypes: readonly string[];
  /** This page's own path and query, to come back to after a replay. */
  readonly self: string;
  readonly next: string | null;
  readonly first: string | null;
  readonly now: number;
}

/** Deliveries by status, type and subscription, oldest first; dead ones can be replayed. */
export function DeliveriesPage(props: {
  readonly data: DeliveriesData;
  readonly csrf: string;
  readonly notice: NoticeMessage | null;
}) {
  const { deliveries, filter, subscriptions, integrationTypes, now, csrf, self } = {
    ...props.data,
    csrf: props.csrf,
  };
  const replayable = filter.status === null || filter.status === 'dead';
  const known = new Set(subscriptions.map((s) => s.id));
  return (
    <Layout title="Deliveries" section="deliveries" csrf={csrf}>
      <PageHead
        title="Deliveries"
        lead="Each integration event to each subscription, oldest first. A dead delivery gave up; replaying it starts its retries afresh."
      />
      <Notice notice={props.notice} />
      <div class="panel">
        <form method="get" action={paths.deliveries} class="filters" aria-label="Filter deliveries">
          <div class="field">
            <label for="f-status">Status</label>
            <select id="f-status" name="status">
              <option value="">Any status</option>
              {DELIVERY_STATUSES.map((s) => (
                <option value={s} selected={s === filter.status}>
                  {statusLabel(s)}
                </option>
              ))}
            </select>
          </div>
          <div class="field grow">
            <label for="f-type">Type</label>
            <input
              id="f-type"
              name="type"
              list="delivery-types"
              placeholder="order.created.v1 or order.*"
              value={filter.type}
              autocomplete="off"
              spellcheck={false}
            />
            <datalist id="delivery-types">
              {integrationTypes.map((t) => (
                <option value={t} />
              ))}
            </datalist>
          </div>
          <div class="field grow">
            <label for="f-subscription">Subscription</label>
            <select id="f-subscription" name="subscription">
              <option value="">Any subscription</option>
              {subscriptions.map((s) => (
                <option value={s.id} selected={s.id === filter.subscription}>
                  {s.id} ({s.type})
                </option>
              ))}
              {filter.subscription && !known.has(filter.subscription) ? (
                <option value={filter.subscription} selected>
                  {filter.subscription}
                </option>
              ) : null}
            </select>
          </div>
          <button type="submit" class="btn">
            Filter
          </button>
          {filter.status || filter.type || filter.subscription ? (
            <a class="btn btn-quiet" href={paths.deliveries}>
              Clear
            </a>
          ) : null}
        </form>
      </div>
      {replayable ? (
        <div class="panel replay-all">
          <p class="muted">
            <strong>Replay all</strong> replays every dead delivery that matches
            {filter.type || filter.subscription ? ' this filter' : ', of every type and subscription'}, not
            only this page.
          </p>
          <form method="post" action={paths.replayAll}>
            <CsrfField token={csrf} />
            {filter.type ? <input type="hidden" name="type" value={filter.type} /> : null}
            {filter.subscription ? (
              <input type="hidden" name="subscription" value={filter.subscription} />
            ) : null}
            <input type="hidden" name="back" value={self} />
            <button type="submit" class="btn btn-danger">
              Replay all
            </button>
          </form>
        </div>
      ) : null}
      <TableBox label="Deliveries">
        {deliveries.length === 0 ? (
          <p class="empty">No deliveries match.</p>
        ) : (
          <table>
            <caption class="visually-hidden">Deliveries, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Delivery</th>
                <th scope="col">Type</th>
                <th scope="col">Subscription</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col" class="hide-narrow">
                  Created
                </th>
                <th scope="col" class="hide-narrow">
                  Next attempt
                </th>
                <th scope="col" class="actions">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <th scope="row">
                    <span class="id">{d.id}</span>
                    <span class="sub">
                      event{' '}
                      <a class="id" href={paths.event(d.eventId)}>
                        {d.eventId}
                      </a>
                    </span>
                  </th>
                  <td>
                    <code>{d.type}</code>
                  </td>
                  <td>
                    <span class="id">{d.subscriptionId}</span>
                    <span class="sub url">{d.url}</span>
                  </td>
                  <td class="num">{d.attempts}</td>
                  <td class="hide-narrow">
                    <When at={d.createdAt} now={now} />
                  </td>
                  <td class="hide-narrow">
                    {d.status === 'pending' || d.status === 'retrying' ? (
                      <When at={d.nextAttemptAt} now={now} />
                    ) : (
                      <span class="faint">—</span>
                    )}
                  </td>
                  <td class="actions">
                    {d.status === 'dead' ? (
                      <form method="post" action={paths.replay(d.id)}>
                        <CsrfField token={csrf} />
                        <input type="hidden" name="back" value={self} />
                        <button type="submit" class="btn btn-danger btn-small">
                          Replay
                        </button>
                      </form>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </TableBox>
      <Pager first={props.data.first} next={props.data.next} label="Pages of deliveries" />
    </Layout>
  );
}
