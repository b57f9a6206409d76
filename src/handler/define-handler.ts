import { DefinitionError } from '../core/errors.ts';
import type { IntegrationEventDefinition, IntegrationEventOf } from '../core/integration-event.ts';
import { type RetryLaterAfter, toRetryLaterSignal } from './retry-later.ts';

/** What a handler learns about the delivery besides the event itself. */
export interface HandlerContext {
  /** The transport's id for this message (`Upstash-Message-Id`); empty when the sender gave none. */
  readonly messageId: string;
  /** Retries made before this attempt (`Upstash-Retried`): 0 on the first. */
  readonly retried: number;
  /** This attempt's number: `retried + 1`. */
  readonly attempt: number;
  /**
   * Gives up on this attempt without calling it a failure: the claim on the event is dropped and
   * the mesh is asked (503 + `Retry-After`, in whole seconds rounded up) to try again later.
   * @example if (!(await ledger.isOpen())) ctx.retryLater({ seconds: 30 });
   */
  retryLater(after: RetryLaterAfter): never;
}

/** A handler for one integration event type; a plain frozen value, no class to extend. */
export interface HandlerDefinition<TDef extends IntegrationEventDefinition = IntegrationEventDefinition> {
  readonly kind: 'handler';
  /** Keys the inbox: changing it makes every past event look new to this handler. */
  readonly name: string;
  readonly event: TDef;
  // Method syntax on purpose: it lets a handler of `order.created.v1` sit in a list of handlers of
  // any event (`HandlerDefinition[]`) — the app only ever calls it with data its own schema parsed.
  handle(event: IntegrationEventOf<TDef>, ctx: HandlerContext): Promise<void> | void;
}

export interface DefineHandlerOptions {
  /** The inbox key of this handler; defaults to the event type. */
  readonly name?: string;
}

/** Inbox keys are stored and compared as text: a bounded, printable name keeps them sane. */
const MAX_NAME_LENGTH = 200;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Declares how a consuming service handles one integration event. `event.data` is typed by the
 * definition's schema and has been validated by it before `handle` runs.
 * @example
 * const onOrderCreated = defineHandler(OrderCreatedV1, async (event, ctx) => {
 *   await billing.charge(event.data.orderId, { idempotencyKey: event.id });
 * });
 */
export function defineHandler<TDef extends IntegrationEventDefinition>(
  event: TDef,
  handle: (event: IntegrationEventOf<TDef>, ctx: HandlerContext) => Promise<void> | void,
  options: DefineHandlerOptions = {},
): HandlerDefinition<TDef> {
  if (event?.kind !== 'integration') {
    throw new DefinitionError(
      'defineHandler expects an integration event definition (defineIntegrationEvent)',
    );
  }
  if (typeof handle !== 'function') {
    throw new DefinitionError(`the handler of ${event.type} must be a function`);
  }
  const name = options.name ?? event.type;
  if (name === '' || name.length > MAX_NAME_LENGTH || CONTROL.test(name)) {
    throw new DefinitionError(
      `handler name ${JSON.stringify(name)} must be 1–${MAX_NAME_LENGTH} characters without control characters`,
    );
  }
  return Object.freeze({ kind: 'handler', name, event, handle });
}

/**
 * The context handed to a handler for one attempt.
 * @example const ctx = toHandlerContext({ messageId: 'msg_1', retried: 0 });
 */
export function toHandlerContext(input: { messageId: string; retried: number }): HandlerContext {
  return Object.freeze({
    messageId: input.messageId,
    retried: input.retried,
    attempt: input.retried + 1,
    retryLater,
  });
}

/** One function for every context (it reads nothing of it), not a closure made per attempt. */
function retryLater(after: RetryLaterAfter): never {
  throw toRetryLaterSignal(after);
}
