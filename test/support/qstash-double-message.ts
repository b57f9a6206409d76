/** What the QStash double keeps about every message it accepted or published itself. */
import type { QStashDoubleAttempt } from './qstash-double-delivery.ts';
import type { CallbackSettings } from './qstash-double-options.ts';

export type QStashDoubleMessageKind = 'message' | 'callback' | 'failure-callback';
export type QStashDoubleState = 'pending' | 'delivered' | 'failed';

export interface QStashDoubleMessage {
  /** `msg_…`, as answered to the publisher and sent as `Upstash-Message-Id`. */
  readonly id: string;
  /** A published message, or one QStash published itself to call a callback back. */
  readonly kind: QStashDoubleMessageKind;
  /** For a callback: the message it reports on; null for a published message. */
  readonly sourceMessageId: string | null;
  readonly destination: string;
  readonly method: string;
  /** What QStash received for it, lower-case, `authorization` left out: the publish request's
   * headers, or the batch entry's `headers`. Empty for a callback. */
  readonly headers: Readonly<Record<string, string>>;
  /** What the destination is sent besides QStash's own headers: `content-type` and the
   * `Upstash-Forward-*` headers with the prefix stripped. */
  readonly forwardHeaders: Readonly<Record<string, string>>;
  readonly body: string;
  readonly bodyBytes: Uint8Array;
  /** Retries allowed after the first attempt. */
  readonly retries: number;
  /** The `Upstash-Retry-Delay` expression; null = QStash's default backoff. */
  readonly retryDelay: string | null;
  readonly timeoutMs: number;
  readonly createdAt: number;
  /** When the first attempt is due (delay / not-before applied), ms. */
  readonly notBefore: number;
  readonly dedupId: string | null;
  readonly callback: CallbackSettings | null;
  readonly failureCallback: CallbackSettings | null;
  readonly callerIp: string;
  readonly state: QStashDoubleState;
  /** Retries made so far. */
  readonly retried: number;
  /** When the next attempt is due; null once delivered or failed. */
  readonly nextAttemptAt: number | null;
  readonly attempts: readonly QStashDoubleAttempt[];
  readonly failureReason: 'non_retryable' | 'retries_exhausted' | null;
  /** Set when the message failed for good and went to the DLQ. */
  readonly dlqId: string | null;
}
