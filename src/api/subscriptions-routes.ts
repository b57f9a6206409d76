import { Hono } from 'hono';
import * as v from 'valibot';
import type { Clock } from '../core/clock.ts';
import { checkSubscriptionUrl, type SubscriptionUrlRules } from '../core/network-address.ts';
import { parseDelayExpression } from '../core/retry-delay-expression.ts';
import {
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_PAUSE_AFTER,
  DEFAULT_RETRIES,
  MAX_CONCURRENCY_LIMIT,
  MAX_RETRIES,
  PAUSE_AFTER_LIMIT,
} from '../core/subscription.ts';
import type { StoredSubscription, SubscriptionStore } from '../core/subscription-store.ts';
import {
  bodySizeLimit,
  invalidInput,
  parseInput,
  readJsonBody,
  readQuery,
  TypePatternSchema,
  toIso,
} from './admin-input.ts';
import { type AuthEnv, type Authenticator, requireAuth } from './auth.ts';
import { problem } from './problem.ts';
import { SubscriptionFilterSchema } from './subscription-filter-schema.ts';

export interface SubscriptionsRoutesOptions {
  readonly subscriptions: SubscriptionStore;
  readonly auth: Authenticator;
  readonly clock: Clock;
  readonly newId: () => string;
  /** DESIGN "Trust": what an API-created subscription's URL may target. */
  readonly urlRules: SubscriptionUrlRules;
}

/** Longer URLs are refused by some proxies and are never a real webhook endpoint. */
const MAX_URL_LENGTH = 2048;

const RetriesSchema = v.pipe(
  v.number('retries must be a number'),
  v.integer('retries must be an integer'),
  v.minValue(0, `retries must be from 0 to ${MAX_RETRIES}`),
  v.maxValue(MAX_RETRIES, `retries must be from 0 to ${MAX_RETRIES}`),
);

const MaxConcurrencySchema = v.pipe(
  v.number('maxConcurrency must be a number'),
  v.integer('maxConcurrency must be an integer'),
  v.minValue(1, `maxConcurrency must be from 1 to ${MAX_CONCURRENCY_LIMIT}`),
  v.maxValue(MAX_CONCURRENCY_LIMIT, `maxConcurrency must be from 1 to ${MAX_CONCURRENCY_LIMIT}`),
);

const PauseAfterSchema = v.pipe(
  v.number('pauseAfter must be a number'),
  v.integer('pauseAfter must be an integer'),
  v.minValue(0, `pauseAfter must be from 0 to ${PAUSE_AFTER_LIMIT}`),
  v.maxValue(PAUSE_AFTER_LIMIT, `pauseAfter must be from 0 to ${PAUSE_AFTER_LIMIT}`),
  v.description('Consecutive failed attempts that pause the subscription (reason `failing`); 0 = never'),
);

const PausedSchema = v.boolean('paused must be true or false');

/** A QStash delay expression, parsed here so a bad one is refused now, not at the first retry. */
const RetryDelaySchema = v.nullable(
  v.pipe(
    v.string('retryDelay must be a string expression such as "pow(2, retried) * 1000", or null'),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const parsed = parseDelayExpression(dataset.value);
      if (!parsed.ok) addIssue({ message: parsed.error });
    }),
  ),
);

/**
 * What `/v1/subscriptions` takes, for these URL rules: the routes validate with these schemas and
 * the OpenAPI document (src/api/openapi/) is generated from them.
 */
export function createSubscriptionSchemas(urlRules: SubscriptionUrlRules) {
  const UrlSchema = v.pipe(
    v.string('url must be a string'),
    v.maxLength(MAX_URL_LENGTH, `url must be at most ${MAX_URL_LENGTH} characters`),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const checked = checkSubscriptionUrl(dataset.value, urlRules);
      if (!checked.ok) addIssue({ message: checked.reason });
    }),
  );
  const CreateSchema = v.strictObject({
    type: TypePatternSchema,
    url: UrlSchema,
    retries: v.optional(RetriesSchema),
    retryDelay: v.optional(RetryDelaySchema),
    maxConcurrency: v.optional(MaxConcurrencySchema),
    pauseAfter: v.optional(PauseAfterSchema),
    paused: v.optional(PausedSchema),
    filter: v.optional(v.nullable(SubscriptionFilterSchema)),
  });
  const PatchSchema = v.pipe(
    v.partial(CreateSchema),
    v.minEntries(
      1,
      'give at least one of type, url, retries, retryDelay, maxConcurrency, pauseAfter, paused, filter',
    ),
  );
  const ListQuerySchema = v.strictObject({ type: v.optional(TypePatternSchema) });
  return { CreateSchema, PatchSchema, ListQuerySchema };
}

/**
 * `/v1/subscriptions`, admin only. Code-declared subscriptions are listed but belong to the code:
 * changing or deleting one here is refused (409), since the next start would undo it anyway —
 * except pausing and resuming (`{ "paused": … }` alone), which is operational and survives starts.
 */
export function createSubscriptionsRoutes(options: SubscriptionsRoutesOptions) {
  const { subscriptions, clock, urlRules } = options;
  const { CreateSchema, PatchSchema, ListQuerySchema } = createSubscriptionSchemas(urlRules);

  const notFound = (c: Parameters<typeof problem>[0], id: string) =>
    problem(c, 404, 'not-found', `no subscription ${JSON.stringify(id)}`);
  const declaredInCode = (c: Parameters<typeof problem>[0], id: string) =>
    problem(c, 409, 'conflict', `subscription ${JSON.stringify(id)} is declared in code; change it there`);

  return new Hono<AuthEnv>()
    .use(requireAuth(options.auth, ['admin']))
    .post('/', bodySizeLimit(), async (c) => {
      const read = await readJsonBody(c);
      if (!read.ok) return read.response;
      const parsed = parseInput(c, CreateSchema, read.body);
      if (!parsed.ok) return parsed.response;
      const { type, url, retries, retryDelay, maxConcurrency, pauseAfter, paused, filter } = parsed.value;
      const created = await subscriptions.createSubscription({
        id: `sub_${options.newId()}`,
        type,
        url: normalizeUrl(url),
        retries: retries ?? DEFAULT_RETRIES,
        retryDelay: retryDelay ?? null,
        maxConcurrency: maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
        pauseAfter: pauseAfter ?? DEFAULT_PAUSE_AFTER,
        paused: paused ?? false,
        filter: filter ?? null,
        now: clock.now(),
      });
      c.header('location', `/v1/subscriptions/${encodeURIComponent(created.id)}`);
      return c.json(toSubscriptionResponse(created), 201);
    })
    .get('/', async (c) => {
      const query = readQuery(c);
      if (!query.ok) return invalidInput(c, query.issues);
      const parsed = parseInput(c, ListQuerySchema, query.query);
      if (!parsed.ok) return parsed.response;
      const list = await subscriptions.listSubscriptions(
        parsed.value.type === undefined ? {} : { type: parsed.value.type },
      );
      return c.json({ subscriptions: list.map(toSubscriptionResponse) });
    })
    .get('/:id', async (c) => {
      const id = c.req.param('id');
      const found = await subscriptions.getSubscription(id);
      return found ? c.json(toSubscriptionResponse(found)) : notFound(c, id);
    })
    .patch('/:id', bodySizeLimit(), async (c) => {
      const id = c.req.param('id');
      const read = await readJsonBody(c);
      if (!read.ok) return read.response;
      const existing = await subscriptions.getSubscription(id);
      if (!existing) return notFound(c, id);
      if (existing.origin === 'code' && !isPauseOnly(read.body)) return declaredInCode(c, id);
      const parsed = parseInput(c, PatchSchema, read.body);
      if (!parsed.ok) return parsed.response;
      const patch = parsed.value;
      const updated = await subscriptions.updateSubscription(
        id,
        {
          ...(patch.type === undefined ? {} : { type: patch.type }),
          ...(patch.url === undefined ? {} : { url: normalizeUrl(patch.url) }),
          ...(patch.retries === undefined ? {} : { retries: patch.retries }),
          ...(patch.retryDelay === undefined ? {} : { retryDelay: patch.retryDelay }),
          ...(patch.maxConcurrency === undefined ? {} : { maxConcurrency: patch.maxConcurrency }),
          ...(patch.pauseAfter === undefined ? {} : { pauseAfter: patch.pauseAfter }),
          ...(patch.paused === undefined ? {} : { paused: patch.paused }),
          ...(patch.filter === undefined ? {} : { filter: patch.filter }),
        },
        clock.now(),
      );
      return updated ? c.json(toSubscriptionResponse(updated)) : notFound(c, id);
    })
    .delete('/:id', async (c) => {
      const id = c.req.param('id');
      const existing = await subscriptions.getSubscription(id);
      if (!existing) return notFound(c, id);
      if (existing.origin === 'code') return declaredInCode(c, id);
      const deleted = await subscriptions.deleteSubscription(id, clock.now());
      return deleted ? c.body(null, 204) : notFound(c, id);
    });
}

/** A body that only pauses or resumes: what a code-declared subscription accepts. */
function isPauseOnly(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    Object.keys(body).length === 1 &&
    Object.hasOwn(body, 'paused')
  );
}

/**
 * Stores the URL as WHATWG URL serialises it — the string that was checked is the string every
 * transport later parses, with no second reading of `0x7f.1` or `127.1` left to disagree on.
 */
function normalizeUrl(url: string): string {
  return new URL(url).href;
}

/** A subscription as the API answers it; times ISO 8601. */
export function toSubscriptionResponse(s: StoredSubscription) {
  return {
    id: s.id,
    type: s.type,
    url: s.url,
    retries: s.retries,
    retryDelay: s.retryDelay,
    origin: s.origin,
    maxConcurrency: s.maxConcurrency,
    pauseAfter: s.pauseAfter,
    paused: s.pausedAt !== null,
    pausedReason: s.pausedReason,
    pausedAt: s.pausedAt === null ? null : toIso(s.pausedAt),
    filter: s.filter,
    createdAt: toIso(s.createdAt),
    updatedAt: toIso(s.updatedAt),
  };
}
