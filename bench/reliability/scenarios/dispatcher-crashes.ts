import { audit, deliveryStatus } from '../audit.ts';
import { type Cluster, createCluster, type MeshProc, sleep, subscribe, waitFor } from '../cluster.ts';
import { handlerDbPath, meshDbPath, orderPaid, PAID_TYPE } from '../fixture.ts';
import { postUntilAcked } from '../producer.ts';
import { n, type ScenarioResult } from '../report.ts';

// Scenario 1: one api process and four dispatcher processes (HOOKMESH_ROLE=dispatcher) on one
// database file; events are posted while dispatchers are SIGKILLed one after another (and
// restarted, as a supervisor would). Every event must be delivered, and the handler must have run
// exactly once per integration event: the leases hand a dead dispatcher's work to the others,
// and the consuming service's inbox absorbs what a killed dispatcher had sent but not recorded.

const DISPATCHERS = 4;
const BATCH = 100;
// Short leases so a killed dispatcher's deliveries are taken over within the run.
const LEASES = { HOOKMESH_LEASE_MS: '2000', HOOKMESH_ATTEMPT_TIMEOUT_MS: '1000' };

export async function runDispatcherCrashes(options: { quick: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  const total = options.quick ? 2_000 : 10_000;
  const kills = options.quick ? 6 : 20;
  const cluster = createCluster('crashes');
  const notes: string[] = [];
  try {
    const service = await cluster.startHandlerService({ HANDLER_DELAY_MS: '3' });
    const api = await cluster.startMesh({ role: 'api', env: LEASES });
    const slots: (MeshProc | null)[] = await Promise.all(
      Array.from({ length: DISPATCHERS }, () => cluster.startMesh({ role: 'dispatcher', env: LEASES })),
    );
    const subscriptionId = await subscribe(api.url, {
      type: PAID_TYPE,
      url: service.hookUrl,
      retries: 10,
      retryDelay: '250',
    });

    // Ingest paced over about a second per kill, so every kill lands while deliveries are going on.
    const batches = total / BATCH;
    const ingestMs = kills * 700;
    const acked = new Set<string>();
    let ingesting = true;
    const producer = (async () => {
      const deadline = Date.now() + 120_000;
      for (let b = 0; b < batches; b++) {
        const events = Array.from({ length: BATCH }, (_, i) => orderPaid(`crash-${b}-${i}`));
        if (await postUntilAcked(api.url, events, deadline)) for (const e of events) acked.add(e.id);
        await sleep(ingestMs / batches);
      }
      ingesting = false;
    })();

    const effectsAtKill: number[] = [];
    const restarts: Promise<void>[] = [];
    let killed = 0;
    for (let k = 0; k < kills; k++) {
      await sleep(ingestMs / kills);
      // Keep at least two dispatchers up, so the run always makes progress.
      const up = await waitFor(() => {
        const live = slots.flatMap((s, i) => (s === null ? [] : [i]));
        return live.length >= 2 ? live : undefined;
      }, 30_000);
      if (up === undefined) break;
      const index = up[Math.floor(Math.random() * up.length)]!;
      const victim = slots[index]!;
      slots[index] = null;
      await victim.proc.kill('SIGKILL');
      killed++;
      effectsAtKill.push((await service.stats()).effects);
      restarts.push(
        cluster.startMesh({ role: 'dispatcher', env: LEASES }).then((fresh) => {
          slots[index] = fresh;
        }),
      );
    }
    await producer;
    await Promise.all(restarts);

    const drained = await waitFor(
      () => {
        const status = deliveryStatus(meshDbPath(cluster.dir), subscriptionId);
        return (status.delivered ?? 0) >= acked.size ? status : undefined;
      },
      240_000,
      500,
    );
    const stats = await service.stats();
    const result = audit({
      meshDb: meshDbPath(cluster.dir),
      handlerDb: handlerDbPath(cluster.dir),
      subscriptionId,
      acked,
    });
    const duringDelivery = effectsAtKill.filter((e) => e < total).length;
    const lost = result.ackedMissing + result.undelivered + (total - acked.size);
    notes.push(
      `${n(acked.size)}/${n(total)} events acknowledged; deliveries: ${JSON.stringify(result.byStatus)}; ${n(result.attempts)} attempts`,
      `${killed} SIGKILLs of dispatchers (${duringDelivery} while deliveries were outstanding; handler effects at the kills: ${effectsAtKill.join(', ')})`,
      `the service saw ${n(stats.requests)} requests for ${n(result.effects)} effects: ${n(stats.requests - result.effects)} redeliveries absorbed by the inbox`,
    );
    if (ingesting) notes.push('the producer did not finish');
    if (drained === undefined) notes.push('timed out waiting for every delivery to be delivered');
    if (result.partial > 0)
      notes.push(`${result.partial} stored events without their integration event or delivery`);
    if (result.strays > 0) notes.push(`${result.strays} handler runs for events the mesh never stored`);
    return {
      scenario: '1. dispatchers SIGKILLed',
      load: `${n(total)} events, ${DISPATCHERS} dispatchers + api, 1 db file`,
      faults: `${killed} × SIGKILL (dispatcher)`,
      badInputs: '—',
      lost,
      duplicates: result.duplicates,
      pass:
        killed === kills &&
        duringDelivery === kills &&
        lost === 0 &&
        result.duplicates === 0 &&
        result.partial === 0 &&
        result.strays === 0 &&
        result.effects === total,
      seconds: (performance.now() - started) / 1000,
      notes,
    };
  } finally {
    await cluster.close();
  }
}

export type { Cluster };
