/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { StoredSubscription } from '../../../core/subscription-store.ts';
import { CsrfField, TableBox, toQuery, When } from '../components.tsx';
import { paths } from '../paths.ts';
import { PAUSE_REASONS, toSubscriptionState } from '../subscription-state.ts';

/**
 * Subscriptions with their state; with a CSRF token, each row gets its "Pause" or "Resume" button.
 */
export function SubscriptionsTable(props: {
  readonly subscriptions: readonly StoredSubscription[];
  readonly now: number;
  /** Null: read only (the overview). */
  readonly csrf: string | null;
}) {
  const { subscriptions, now, csrf } = props;
  if (subscriptions.length === 0) {
    return (
      <TableBox label="Subscriptions">
        <p class="empty">No subscriptions yet: declare them in code, or create one below.</p>
      </TableBox>
    );
  }
  return (
    <TableBox label="Subscriptions">
      <table>
        <caption class="visually-hidden">Subscriptions and their state</caption>
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Subscription</th>
            <th scope="col">Type</th>
            <th scope="col">URL</th>
            <th scope="col" class="num">
              Retries
            </th>
            <th scope="col" class="hide-narrow">
              Created
            </th>
            {csrf === null ? null : (
              <th scope="col" class="actions">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {subscriptions.map((s) => {
            const held = toSubscriptionState(s);
            return (
              <tr>
                <td>
                  <span
                    class={`badge s-${held.state === 'paused' && held.reason === 'failing' ? 'failing' : held.state}`}
                  >
                    {held.state}
                  </span>
                  {held.state === 'paused' ? (
                    <span class="sub">
                      {PAUSE_REASONS[held.reason]}, <When at={held.since} now={now} />
                    </span>
                  ) : null}
                </td>
                <th scope="row">
                  <a class="id" href={`${paths.deliveries}${toQuery({ subscription: s.id })}`}>
                    {s.id}
                  </a>
                  <span class="sub">
                    {s.origin === 'code' ? 'declared in code' : 'created through the API'}
                  </span>
                </th>
                <td>
                  <code>{s.type}</code>
                  {s.filter === null ? null : (
                    <span class="sub">
                      filter <code>{toFilterExcerpt(s.filter)}</code>
                    </span>
                  )}
                </td>
                <td class="url">{s.url}</td>
                <td class="num">{s.retries}</td>
                <td class="hide-narrow">
                  <When at={s.createdAt} now={now} />
                </td>
                {csrf === null ? null : (
                  <td class="actions">
                    <form
                      method="post"
                      action={held.state === 'paused' ? paths.resume(s.id) : paths.pause(s.id)}
                    >
                      <CsrfField token={csrf} />
                      <button type="submit" class="btn btn-quiet btn-small">
                        {held.state === 'paused' ? 'Resume' : 'Pause'}
                      </button>
                    </form>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableBox>
  );
}

/** A filter as one line, cut short: a long `$in` list would stretch the table. */
function toFilterExcerpt(filter: object): string {
  const text = JSON.stringify(filter);
  return text.length <= FILTER_EXCERPT_CHARS ? text : `${text.slice(0, FILTER_EXCERPT_CHARS - 1)}…`;
}

const FILTER_EXCERPT_CHARS = 120;
