/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../core/delivery-state.ts';
import { formatCount, formatRelative, formatTime } from './format.ts';

// The small pieces every page is built of.

const STATUS_LABELS: Readonly<Record<DeliveryStatus, string>> = {
  pending: 'pending',
  in_flight: 'in flight',
  retrying: 'retrying',
  delivered: 'delivered',
  dead: 'dead',
};

export function statusLabel(status: DeliveryStatus): string {
  return STATUS_LABELS[status];
}

/** A delivery state: its colour, and always its name. */
export function StatusBadge(props: { readonly status: DeliveryStatus }) {
  return <span class={`badge s-${props.status}`}>{statusLabel(props.status)}</span>;
}

/** Deliveries counted by state, in the state machine's order, as a row of badges. */
export function StatusTally(props: { readonly counts: Readonly<Partial<Record<DeliveryStatus, number>>> }) {
  const present = DELIVERY_STATUSES.filter((s) => (props.counts[s] ?? 0) > 0);
  if (present.length === 0) return <span class="faint">no deliveries</span>;
  return (
    <span class="tally">
      {present.map((s) => (
        <span class={`badge s-${s}`}>
          {formatCount(props.counts[s] ?? 0)} {statusLabel(s)}
        </span>
      ))}
    </span>
  );
}

/** A moment: relative to now on screen, the exact UTC time on hover and for machines. */
export function When(props: { readonly at: number; readonly now: number }) {
  return (
    <time datetime={new Date(props.at).toISOString()} title={formatTime(props.at)} class="nowrap">
      {formatRelative(props.at, props.now)}
    </time>
  );
}

/** An attempt's HTTP status (or "no response"), coloured by what it meant. */
export function HttpStatus(props: { readonly status: number | null }) {
  const { status } = props;
  if (status === null) return <span class="http bad">no response</span>;
  const tone = status >= 200 && status < 300 ? 'ok' : status === 429 || status < 500 ? 'warn' : 'bad';
  return <span class={`http ${tone}`}>{status}</span>;
}

/** Every state-changing form carries this session's CSRF token. */
export function CsrfField(props: { readonly token: string }) {
  return <input type="hidden" name="_csrf" value={props.token} />;
}

export interface NoticeMessage {
  readonly tone: 'ok' | 'error';
  readonly text: string;
  readonly details?: readonly string[];
}

/** The outcome of what the operator just did, or what went wrong, announced to screen readers. */
export function Notice(props: { readonly notice: NoticeMessage | null }) {
  const { notice } = props;
  if (!notice) return null;
  return (
    <div class={`notice ${notice.tone}`} role={notice.tone === 'error' ? 'alert' : 'status'}>
      <div>
        {notice.text}
        {notice.details && notice.details.length > 0 ? (
          <ul>
            {notice.details.map((d) => (
              <li>{d}</li>
            ))}
          </ul>
        ) : null}
      </div>
    </div>
  );
}

/** A table in a box that scrolls sideways on a narrow screen instead of squeezing its columns. */
export function TableBox(props: { readonly label?: string; readonly children: Child }) {
  return (
    // A region, focusable so keyboard users can scroll it sideways.
    <section class="table-wrap" tabindex={0} aria-label={props.label}>
      {props.children}
    </section>
  );
}

/** "Next page" by cursor, and back to the first. */
export function Pager(props: {
  readonly first: string | null;
  readonly next: string | null;
  readonly label: string;
}) {
  if (!props.first && !props.next) return null;
  return (
    <nav class="pager" aria-label={props.label}>
      <span>
        {props.first ? (
          <a class="btn btn-quiet btn-small" href={props.first}>
            First page
          </a>
        ) : null}
      </span>
      <span>
        {props.next ? (
          <a class="btn btn-quiet btn-small" href={props.next} rel="next">
            Next page
          </a>
        ) : null}
      </span>
    </nav>
  );
}

/** `?a=1&b=2` from the values that are set; `''` when none are. */
export function toQuery(values: Readonly<Record<string, string | undefined | null>>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}
