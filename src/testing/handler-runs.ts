import type { Clock } from '../core/clock.ts';
import type { IntegrationEvent } from '../core/integration-event.ts';
import type { HandlerContext, HandlerDefinition } from '../handler/define-handler.ts';
import { isRetryLaterSignal } from '../handler/retry-later.ts';

/**
 * One time a handler's code ran: after the signature, the schema and the inbox let the delivery
 * through. A copy the inbox recognised is acknowledged without a run, so it is not here.
 */
export interface HandlerRun<TEvent = IntegrationEvent> {
  /** The handler's name (its inbox key; the event type unless named). */
  readonly handler: string;
  /** The consuming service the delivery reached (`https://billing.example.com`). */
  readonly origin: string;
  /** The event as the handler received it: `ce-*` envelope and data parsed by its schema. */
  readonly event: TEvent;
  /** The attempt's number as the handler saw it (`ctx.attempt`). */
  readonly attempt: number;
  readonly at: Date;
  /** `running` while it runs; `threw` = a failure (5xx, retried); `retry_later` = `ctx.retryLater`. */
  readonly outcome: 'running' | 'completed' | 'threw' | 'retry_later';
  /** What it threw, when it threw. */
  readonly error: unknown;
}

/** The runs of every handler of a test mesh, in the order they started. */
export interface HandlerRunLog {
  readonly runs: readonly HandlerRun[];
  /** The same handler, recording each run under the service origin it is served at. */
  record(handler: HandlerDefinition, origin: string): HandlerDefinition;
}

/**
 * A log of handler runs.
 * @example const log = createHandlerRunLog(clock); createWebhookApp({ handlers: handlers.map((h) => log.record(h, origin)), ... });
 */
export function createHandlerRunLog(clock: Clock): HandlerRunLog {
  const runs: HandlerRun[] = [];
  return {
    runs,
    record(handler, origin) {
      return Object.freeze({
        ...handler,
        async handle(event: IntegrationEvent, ctx: HandlerContext) {
          const run: { -readonly [K in keyof HandlerRun]: HandlerRun[K] } = {
            handler: handler.name,
            origin,
            event,
            attempt: ctx.attempt,
            at: new Date(clock.now()),
            outcome: 'running',
            error: undefined,
          };
          runs.push(run);
          try {
            await handler.handle(event as never, ctx);
            run.outcome = 'completed';
          } catch (error) {
            run.outcome = isRetryLaterSignal(error) ? 'retry_later' : 'threw';
            run.error = error;
            throw error;
          }
        },
      });
    },
  };
}

/** The runs of one handler (by definition or name), or all of them. */
export function selectRuns(runs: readonly HandlerRun[], handler?: HandlerDefinition | string): HandlerRun[] {
  const name = handler === undefined ? undefined : typeof handler === 'string' ? handler : handler.name;
  return runs.filter((r) => name === undefined || r.handler === name);
}
