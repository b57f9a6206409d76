import fc from 'fast-check';
import Database from 'libsql';
import { Client, Pool } from 'undici';
import { checkSubscriptionUrl } from '../../../src/core/network-address.ts';
import { parseDelayExpression } from '../../../src/core/retry-delay-expression.ts';
import { signQStashJwt } from '../../../src/core/signature.ts';
import { createCluster } from '../cluster.ts';
import {
  handlerDbPath,
  meshDbPath,
  orderPaid,
  PRODUCER_NAME,
  PRODUCER_TOKEN,
  SIGNING_KEY,
} from '../fixture.ts';
import { type HostileRequest, hostileRequests } from '../hostile/arbitraries.ts';
import {
  createHostileState,
  OTHER_PRODUCER_TOKEN,
  rememberPresented,
  toWire,
  type Wire,
} from '../hostile/wire.ts';
import { postOnce } from '../producer.ts';
import { n, type ScenarioResult } from '../report.ts';

// Scenario 5: seeded fast-check requests, hostile in every part — methods, paths, tokens, content
// types, headers, bodies (malformed, deep, huge, chunked, invalid UTF-8, `__proto__`), ids,
// types, subscription URLs in every private spelling, retry expressions, filters, queries — sent
// over HTTP to the mesh (a production-mode api process) and to a consuming service's webhook
// route (tokens valid, replayed, forged, expired, for another body or subject). Then: no 5xx, no
// partial write (every stored event has its integration event and a delivery per code
// subscription; the database holds exactly what 2xx answers acknowledged), no forbidden
// subscription stored, the handler ran once per event and only for deliveries it could trust,
// and both processes still serve.

export const HOSTILE_SEED = 20_261_202;
const CONCURRENCY = 32;
const CHUNK = 1_000;
const CODE_SUBSCRIPTIONS = (hookUrl: string) => [
  { type: 'order.paid.v1', url: hookUrl, id: 'code-paid' },
  { type: 'order.created.v1', url: 'http://127.0.0.1:9/webhooks/order.created.v1', id: 'code-created' },
];

interface Tally {
  readonly statuses: Record<string, number>;
  readonly fiveXx: { request: HostileRequest; wire: Wire; status: number; body: string }[];
  /** No answer even on a fresh connection; `overLimit` when its body was over the route's limit. */
  readonly noAnswer: { request: HostileRequest; error: string; overLimit: boolean }[];
  /** No answer on a reused connection, answered when sent again on a fresh one. */
  readonly resets: { request: HostileRequest; error: string; retryStatus: number }[];
  bad: number;
}

const LIMITS = { mesh: 256 * 1024, handler: 1024 * 1024 } as const;

function bodySize(wire: Wire): number {
  if (wire.body === null) return 0;
  if (typeof wire.body === 'string') return Buffer.byteLength(wire.body);
  if (wire.body instanceof Uint8Array) return wire.body.byteLength;
  return Number.POSITIVE_INFINITY;
}

async function requestOn(dispatcher: Pool | Client, wire: Wire): Promise<{ status: number; text: string }> {
  const res = await dispatcher.request({
    method: wire.method,
    path: wire.path,
    headers: wire.headers,
    body: wire.body,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

export async function runHostileInput(options: { quick: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  const total = options.quick ? 10_000 : 100_000;
  const cluster = createCluster('hostile');
  const notes: string[] = [];
  const pools: Pool[] = [];
  try {
    const service = await cluster.startHandlerService();
    const mesh = await cluster.startMesh({
      role: 'api',
      env: {
        NODE_ENV: 'production',
        HOOKMESH_ALLOW_PRIVATE_NETWORK: 'false',
        HOOKMESH_PRODUCER_TOKENS: `${PRODUCER_NAME}:${PRODUCER_TOKEN},other:${OTHER_PRODUCER_TOKEN}`,
        RELIABILITY_CODE_SUBSCRIPTIONS: JSON.stringify(CODE_SUBSCRIPTIONS(service.hookUrl)),
      },
    });
    const meshPool = new Pool(mesh.url, {
      connections: CONCURRENCY,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const hookPool = new Pool(service.url, {
      connections: CONCURRENCY,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    pools.push(meshPool, hookPool);

    const state = createHostileState();
    const accepted = new Set<string>();
    const mustHaveRun = new Set<string>();
    /** Ids of the tokens minted correctly for what they were sent with: the only ones a run may carry. */
    const genuineJtis = new Set<string>();
    const tally: Record<'mesh' | 'handler', Tally> = {
      mesh: { statuses: {}, fiveXx: [], noAnswer: [], resets: [], bad: 0 },
      handler: { statuses: {}, fiveXx: [], noAnswer: [], resets: [], bad: 0 },
    };
    let sent = 0;
    // Who sent what, to explain any id the checks flag: event ids and ce-ids → the requests carrying them.
    const carriers = new Map<string, string[]>();
    const carry = (id: string, what: string) => {
      const list = carriers.get(id) ?? [];
      if (list.length < 4) list.push(what);
      carriers.set(id, list);
    };

    const send = async (request: HostileRequest, seq: number) => {
      let wire = await toWire(request, state, service.url, seq);
      const t = tally[wire.target];
      let status: number;
      let text: string;
      try {
        ({ status, text } = await requestOn(wire.target === 'mesh' ? meshPool : hookPool, wire));
      } catch (error) {
        // No answer. Sent again on a connection of its own, as a client retries a network error:
        // a reused connection may have been closed under it (see the notes).
        const first = describe(error);
        wire = await toWire(request, state, service.url, seq);
        const client = new Client(wire.target === 'mesh' ? mesh.url : service.url);
        try {
          ({ status, text } = await requestOn(client, wire));
          t.resets.push({ request, error: first, retryStatus: status });
        } catch (again) {
          t.noAnswer.push({
            request,
            error: `${first}, then ${describe(again)}`,
            overLimit: bodySize(wire) > LIMITS[wire.target],
          });
          return;
        } finally {
          await client.close().catch(() => {});
        }
      }
      sent++;
      if (wire.expect.kind === 'webhook' && wire.expect.ceId !== null) {
        carry(
          wire.expect.ceId,
          `${status} ${JSON.stringify({ ...request, body: undefined })} mayRun=${wire.expect.mayRun}`,
        );
      }
      if (wire.target === 'mesh' && typeof wire.body === 'string') {
        for (const m of wire.body.matchAll(/"id":("(?:[^"\\]|\\.)*")/g)) {
          const id = safeJson(m[1]!) as string;
          carry(id, `${status} ${wire.body.slice(0, 300)}`);
        }
      }
      t.statuses[String(status)] = (t.statuses[String(status)] ?? 0) + 1;
      if (status >= 400 && status < 500) t.bad++;
      if (status >= 500) t.fiveXx.push({ request, wire, status, body: text.slice(0, 300) });
      remember(wire, status, text);
    };

    const remember = (wire: Wire, status: number, text: string) => {
      const ok = status >= 200 && status < 300;
      const json = ok ? safeJson(text) : null;
      // Any answer that acknowledges events counts, whatever path reached the route
      // (`/v1/../v1/events` and the like are normalised before routing).
      if (wire.target === 'mesh' && wire.method === 'POST' && ok) {
        const single = json as { id?: unknown; integrationEvents?: unknown } | null;
        const answers = Array.isArray((json as { events?: unknown } | null)?.events)
          ? (json as { events: { id?: unknown }[] }).events
          : Array.isArray(single?.integrationEvents)
            ? [single!]
            : [];
        for (const a of answers) {
          if (typeof a?.id !== 'string') continue;
          accepted.add(a.id);
          if (state.events.length < 1000) state.events.push(a.id);
        }
      }
      switch (wire.expect.kind) {
        case 'events':
          return;
        case 'subscription-create': {
          const id = (json as { id?: unknown } | null)?.id;
          if (status === 201 && typeof id === 'string') state.subscriptions.push(id);
          return;
        }
        case 'deliveries-list': {
          for (const d of (json as { deliveries?: { id?: unknown }[] } | null)?.deliveries ?? []) {
            if (typeof d.id === 'string' && state.deliveries.length < 1000) state.deliveries.push(d.id);
          }
          return;
        }
        case 'webhook': {
          rememberPresented(state, wire);
          if (wire.expect.jti !== null) genuineJtis.add(wire.expect.jti);
          if (wire.expect.mayRun && wire.expect.ceId !== null && ok) mustHaveRun.add(wire.expect.ceId);
          return;
        }
        case 'other':
          return;
      }
    };

    // Generated a chunk at a time (seed + chunk number), sent CONCURRENCY at a time.
    let seq = 0;
    for (let chunk = 0; chunk * CHUNK < total; chunk++) {
      const requests = fc.sample(hostileRequests, {
        seed: HOSTILE_SEED + chunk,
        numRuns: Math.min(CHUNK, total - chunk * CHUNK),
      });
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < requests.length) {
            const i = next++;
            await send(requests[i]!, seq++);
          }
        }),
      );
    }

    // Still healthy: the API answers, a fresh event is accepted and readable, the webhook route
    // handles a fresh signed delivery.
    const health = await fetch(`${mesh.url}/healthz`);
    const fresh = orderPaid(`after-${Date.now()}`);
    const post = await postOnce(mesh.url, fresh);
    if (post.status === 202) accepted.add(fresh.id);
    const read = await fetch(`${mesh.url}/v1/events/${fresh.id}`, {
      headers: { authorization: `Bearer ${PRODUCER_TOKEN}` },
    });
    const hookBody = JSON.stringify({ orderId: 'after', amount: 1, paidAt: new Date().toISOString() });
    const hookId = `ce-after-${Date.now()}`;
    const hookToken = await signQStashJwt({
      key: SIGNING_KEY,
      url: service.hookUrl,
      body: hookBody,
      nowMs: Date.now(),
      jti: `jwt_after_${Date.now()}`,
    });
    const hook = await fetch(service.hookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'upstash-signature': hookToken,
        'ce-id': hookId,
        'ce-type': 'order.paid.v1',
        'ce-specversion': '1.0',
        'ce-source': '/producers/reliability',
        'ce-time': new Date().toISOString(),
      },
      body: hookBody,
    });
    if (hook.ok) {
      genuineJtis.add(JSON.parse(Buffer.from(hookToken.split('.')[1]!, 'base64url').toString('utf8')).jti);
      mustHaveRun.add(hookId);
    }
    const healthy =
      health.status === 200 && post.status === 202 && read.status === 200 && hook.status === 200;

    const db = checkDatabases(
      meshDbPath(cluster.dir),
      handlerDbPath(cluster.dir),
      accepted,
      genuineJtis,
      mustHaveRun,
    );
    const fiveXx = tally.mesh.fiveXx.length + tally.handler.fiveXx.length;
    const errorLines = [...mesh.proc.output().split('\n'), ...service.proc.output().split('\n')].filter((l) =>
      /"level":"error"|Error/.test(l),
    );
    const errorKinds = [...new Set(errorLines.map((l) => l.replace(/"time":"[^"]*",?/, '').slice(0, 200)))];
    if (errorKinds.length > 0)
      notes.push(`error lines logged: ${errorLines.length}; kinds: ${errorKinds.slice(0, 4).join(' ‖ ')}`);
    const noAnswers = [...tally.mesh.noAnswer, ...tally.handler.noAnswer];
    const noAnswer = noAnswers.filter((f) => !f.overLimit).length;
    const resets = [...tally.mesh.resets, ...tally.handler.resets];
    notes.push(
      `seed ${HOSTILE_SEED}: ${n(total)} requests generated, ${n(sent)} answered — mesh ${JSON.stringify(tally.mesh.statuses)}; webhook route ${JSON.stringify(tally.handler.statuses)}`,
      `${n(accepted.size)} events acknowledged and ${n(db.stored)} stored (${db.unacknowledged} stored without an acknowledgement, ${db.lost} acknowledged but missing); ${db.partial} partial writes; ${db.forbiddenSubscriptions} forbidden subscriptions stored of ${db.apiSubscriptions} created through the API`,
      `handler: ${n(db.effects)} runs, ${db.duplicates} duplicates (same ce-id), ${db.tokenReruns} runs of a token already run, ${db.untrusted} on a token not genuinely signed for the request, ${db.missingRuns} acknowledged deliveries that never ran`,
      `after the run: /healthz ${health.status}, a fresh POST ${post.status}, its GET ${read.status}, a fresh signed delivery ${hook.status}`,
    );
    for (const r of resets.filter((x) => x.retryStatus === 202).slice(0, 3)) {
      notes.push(`reset, then 202 when sent again: ${JSON.stringify(r.request).slice(0, 600)}`);
    }
    for (const id of [...db.unacknowledgedIds.slice(0, 3), ...db.untrustedIds.slice(0, 3)]) {
      const storedAs = storedEvent(meshDbPath(cluster.dir), id);
      const inner = [...storedAs.matchAll(/\\"id\\":\\"([^\\]+)\\"/g)].map((m) => m[1]!);
      const via = carriers.get(id) ?? inner.flatMap((x) => carriers.get(x) ?? []);
      notes.push(
        `flagged ${JSON.stringify(id)} (stored as ${storedAs.slice(0, 200)}): ${via.join(' | ').slice(0, 1200) || '(no request carried it)'}`,
      );
    }
    for (const t of ['mesh', 'handler'] as const) {
      const routes = countBy(
        tally[t].fiveXx.map(
          (f) =>
            `${f.status} ${f.wire.method} ${f.wire.path.split('?')[0]!.slice(0, 60)} (${f.wire.headers['content-type'] ?? 'no content-type'})`,
        ),
      );
      if (tally[t].fiveXx.length > 0) notes.push(`5xx from ${t} by route: ${JSON.stringify(routes)}`);
      for (const f of tally[t].fiveXx.slice(0, 2)) {
        notes.push(
          `FINDING: ${t} answered ${f.status} to ${f.wire.method} ${f.wire.path.slice(0, 80)} — ${f.body} — request: ${JSON.stringify(f.request).slice(0, 400)}`,
        );
      }
      for (const f of tally[t].noAnswer.filter((x) => !x.overLimit).slice(0, 3)) {
        notes.push(`FINDING: no answer from ${t} (${f.error}) to ${JSON.stringify(f.request).slice(0, 300)}`);
      }
    }
    if (resets.length > 0 || noAnswers.length > 0) {
      notes.push(
        `FINDING: ${resets.length} requests got no answer on a reused keep-alive connection (${[...new Set(resets.map((r) => r.error.split(':')[0]))].join(', ')}) and were answered ${JSON.stringify(countBy(resets.map((r) => r.retryStatus)))} when sent again (mesh ${tally.mesh.resets.length}, webhook route ${tally.handler.resets.length}); ${noAnswers.length - noAnswer} bodies over the limit got no readable answer at all (mesh ${tally.mesh.noAnswer.length}, webhook route ${tally.handler.noAnswer.length}). The mesh on Node reads and drops an unread body (up to 4 MiB, while it keeps coming) before answering early (413, 401); past that it answers with "Connection: close", and a client still writing may see a reset instead of the answer`,
      );
    }
    return {
      scenario: '5. hostile requests',
      load: `${n(total)} seeded requests, ${CONCURRENCY} in flight`,
      faults: '—',
      badInputs: `${n(tally.mesh.bad + tally.handler.bad)} refused (4xx)`,
      lost: db.lost + db.missingRuns,
      duplicates: db.duplicates,
      pass:
        fiveXx === 0 &&
        noAnswer === 0 &&
        db.lost === 0 &&
        db.unacknowledged === 0 &&
        db.partial === 0 &&
        db.forbiddenSubscriptions === 0 &&
        db.duplicates === 0 &&
        db.untrusted === 0 &&
        db.tokenReruns === 0 &&
        db.missingRuns === 0 &&
        healthy,
      seconds: (performance.now() - started) / 1000,
      notes: [
        `${fiveXx} answers 5xx, ${noAnswer} requests (under the body limits) without an answer`,
        ...notes,
      ],
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }
}

function storedEvent(meshDb: string, id: string): string {
  const db = new Database(meshDb, { timeout: 10_000 });
  try {
    return JSON.stringify(
      db
        .prepare(
          `SELECT (SELECT name FROM event_types WHERE ref = type_ref) AS type, data, received_at FROM domain_events WHERE id = ?`,
        )
        .get([id]),
    );
  } finally {
    db.close();
  }
}

function countBy(values: readonly (string | number)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

function describe(error: unknown): string {
  const e = error as Error & { code?: string };
  return `${e.code ?? e.name}: ${e.message}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function checkDatabases(
  meshDb: string,
  handlerDb: string,
  accepted: ReadonlySet<string>,
  genuineJtis: ReadonlySet<string>,
  mustHaveRun: ReadonlySet<string>,
) {
  const db = new Database(meshDb, { timeout: 10_000 });
  try {
    db.exec(`ATTACH DATABASE '${handlerDb.replaceAll("'", "''")}' AS h`);
    const one = (sql: string) => Number(Object.values(db.prepare(sql).get([]) as Record<string, unknown>)[0]);
    const ids = (db.prepare('SELECT id FROM domain_events').all([]) as { id: string }[]).map((r) => r.id);
    const stored = new Set(ids);
    const partial =
      one(
        `SELECT count(*) FROM domain_events e WHERE (SELECT count(*) FROM integration_events i WHERE i.domain_event_ref = e.ref) != 1`,
      ) +
      one(`SELECT count(*) FROM integration_events i WHERE (SELECT count(*) FROM deliveries d WHERE d.integration_event_ref = i.ref
             AND d.subscription_ref = (SELECT ref FROM subscription_refs
               WHERE id = CASE (SELECT name FROM event_types WHERE ref = i.type_ref) WHEN 'order.paid.v1' THEN 'code-paid' ELSE 'code-created' END)) != 1`) +
      one(
        'SELECT count(*) FROM integration_events i WHERE NOT EXISTS (SELECT 1 FROM domain_events e WHERE e.ref = i.domain_event_ref)',
      ) +
      one(
        'SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM integration_events i WHERE i.ref = d.integration_event_ref)',
      ) +
      one(
        'SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.ref = d.subscription_ref)',
      );
    const subscriptions = db
      .prepare("SELECT url, retry_delay FROM subscriptions WHERE origin = 'api'")
      .all([]) as {
      url: string;
      retry_delay: string | null;
    }[];
    const forbiddenSubscriptions = subscriptions.filter(
      (s) =>
        !checkSubscriptionUrl(s.url, { requireHttps: true, allowPrivateNetwork: false }).ok ||
        (s.retry_delay !== null && !parseDelayExpression(s.retry_delay).ok),
    ).length;
    const effects = db.prepare('SELECT event_id, count(*) AS n FROM h.effects GROUP BY event_id').all([]) as {
      event_id: string;
      n: number;
    }[];
    const ran = new Set(effects.map((e) => e.event_id));
    const runs = db.prepare('SELECT event_id, jti FROM h.effects').all([]) as {
      event_id: string;
      jti: string | null;
    }[];
    const byJti = countBy(runs.map((r) => r.jti ?? '(none)'));
    return {
      stored: stored.size,
      unacknowledged: ids.filter((id) => !accepted.has(id)).length,
      unacknowledgedIds: ids.filter((id) => !accepted.has(id)),
      untrustedIds: runs.filter((r) => r.jti === null || !genuineJtis.has(r.jti)).map((r) => r.event_id),
      lost: [...accepted].filter((id) => !stored.has(id)).length,
      partial,
      apiSubscriptions: subscriptions.length,
      forbiddenSubscriptions,
      effects: effects.reduce((s, e) => s + Number(e.n), 0),
      duplicates: effects.reduce((s, e) => s + Number(e.n) - 1, 0),
      untrusted: runs.filter((r) => r.jti === null || !genuineJtis.has(r.jti)).length,
      tokenReruns: Object.values(byJti).reduce((sum, count) => sum + count - 1, 0),
      missingRuns: [...mustHaveRun].filter((id) => !ran.has(id)).length,
    };
  } finally {
    db.close();
  }
}
