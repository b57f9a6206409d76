/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { MAX_RETRIES } from '../../../core/subscription.ts';
import type { StoredSubscription } from '../../../core/subscription-store.ts';
import type { SubscriptionForm } from '../api-actions.ts';
import { CsrfField, Notice, type NoticeMessage } from '../components.tsx';
import { Layout, PageHead } from '../layout.tsx';
import { paths } from '../paths.ts';
import { SubscriptionsTable } from './subscriptions-table.tsx';

export interface SubscriptionsData {
  readonly subscriptions: readonly StoredSubscription[];
  /** The app's integration event types, offered while typing. */
  readonly integrationTypes: readonly string[];
  readonly now: number;
  /** What was typed into the create form, when the API refused it. */
  readonly form?: SubscriptionForm;
}

/** Every subscription, pause and resume, and a form to create one through the API. */
export function SubscriptionsPage(props: {
  readonly data: SubscriptionsData;
  readonly csrf: string;
  readonly notice: NoticeMessage | null;
}) {
  const { subscriptions, integrationTypes, now, form } = props.data;
  return (
    <Layout title="Subscriptions" section="subscriptions" csrf={props.csrf}>
      <PageHead
        title="Subscriptions"
        lead="Who receives which integration events. A paused subscription's deliveries wait, spending no retries, until it is resumed."
      />
      <Notice notice={props.notice} />
      <section aria-labelledby="list-title" class="stack">
        <h2 id="list-title" class="visually-hidden">
          All subscriptions
        </h2>
        <SubscriptionsTable subscriptions={subscriptions} now={now} csrf={props.csrf} />
      </section>
      <section class="panel spaced" aria-labelledby="create-title">
        <div class="panel-head">
          <h2 id="create-title">Create a subscription</h2>
          <span class="muted">It receives events accepted from now on.</span>
        </div>
        <form method="post" action={paths.subscriptions}>
          <CsrfField token={props.csrf} />
          <div class="form-grid">
            <div class="field">
              <label for="sub-type">Type</label>
              <input
                id="sub-type"
                name="type"
                required
                list="integration-types"
                placeholder="order.created.v1"
                aria-describedby="sub-type-hint"
                value={form?.type ?? ''}
                autocomplete="off"
                spellcheck={false}
              />
              <span class="hint" id="sub-type-hint">
                an integration event type, or a prefix such as order.*
              </span>
              <datalist id="integration-types">
                {integrationTypes.map((t) => (
                  <option value={t} />
                ))}
              </datalist>
            </div>
            <div class="field wide">
              <label for="sub-url">URL</label>
              <input
                id="sub-url"
                name="url"
                type="url"
                required
                placeholder="https://billing.example.com/webhooks/order.created.v1"
                value={form?.url ?? ''}
                autocomplete="off"
                spellcheck={false}
              />
            </div>
            <div class="field">
              <label for="sub-retries">Retries</label>
              <input
                id="sub-retries"
                name="retries"
                type="number"
                min="0"
                max={String(MAX_RETRIES)}
                step="1"
                placeholder="10"
                value={form?.retries ?? ''}
                aria-describedby="sub-retries-hint"
              />
              <span class="hint" id="sub-retries-hint">
                0–{MAX_RETRIES}; 10 when left empty
              </span>
            </div>
            <div class="field">
              <label for="sub-delay">Retry delay</label>
              <input
                id="sub-delay"
                name="retryDelay"
                placeholder="pow(2, retried) * 1000"
                value={form?.retryDelay ?? ''}
                aria-describedby="sub-delay-hint"
                autocomplete="off"
                spellcheck={false}
              />
              <span class="hint" id="sub-delay-hint">
                milliseconds; QStash's backoff when left empty
              </span>
            </div>
          </div>
          <div class="form-actions">
            <button type="submit" class="btn">
              Create subscription
            </button>
          </div>
        </form>
      </section>
    </Layout>
  );
}
