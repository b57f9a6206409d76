import { audit, deliveryStatus } from '../audit.ts';
import { createCluster, subscribe, waitFor } from '../cluster.ts';
import { handlerDbPath, meshDbPath, orderCreated, orderPaid, PAID_TYPE } from '../fixture.ts';
import { adminRequest, postUntilAcked } from '../producer.ts';
import { n, type ScenarioResult } from '../report.ts';

// Scenario 2: the consuming service is down for longer than its subscription's retry schedule
// (3 retries, 20 ms apart), so every delivery goes `dead`. Then the service comes back and the
// operator replays by filter (`POST /v1/deliveries/retry { status: 'dead', type }`): every event is
// delivered, the handler runs once per event. Dead deliveries of another type stay dead (the filter
// holds), and a second replay changes nothing (replays are idempotent). Both subscriptions turn
// the circuit breaker off (`pauseAfter: 0`): with it on, 50 consecutive failures pause the
// subscription instead and its deliveries wait, held, for the operator to resume it.

const RETRIES = 3;

export async function runDeadReplay(options: { quick: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  const total = options.quick ? 300 : 1_000;
  const others = options.quick ? 50 : 200;
  const cluster = createCluster('dead');
  const notes: string[] = [];
  try {
    const service = await cluster.startHandlerService({ HANDLER_DOWN: '1' });
    const mesh = await cluster.startMesh({ role: 'all' });
    const subscriptionId = await subscribe(mesh.url, {
      type: PAID_TYPE,
      url: service.hookUrl,
      retries: RETRIES,
      retryDelay: '20',
      pauseAfter: 0,
    });
    // Another type, to an address nothing listens on: dead too, and outside the replay's filter.
    const otherId = await subscribe(mesh.url, {
      type: 'order.created.v1',
      url: 'http://127.0.0.1:9/webhooks/order.created.v1',
      retries: 0,
      pauseAfter: 0,
    });

    const acked = new Set<string>();
    const deadline = Date.now() + 60_000;
    for (let b = 0; b < total / 100; b++) {
      const events = Array.from({ length: 100 }, (_, i) => orderPaid(`dead-${b}-${i}`));
      if (await postUntilAcked(mesh.url, events, deadline)) for (const e of events) acked.add(e.id);
    }
    const otherEvents = Array.from({ length: others }, (_, i) => orderCreated(`other-${i}`));
    for (let i = 0; i < others; i += 100)
      await postUntilAcked(mesh.url, otherEvents.slice(i, i + 100), deadline);

    const allDead = await waitFor(
      () => {
        const s = deliveryStatus(meshDbPath(cluster.dir), subscriptionId);
        const o = deliveryStatus(meshDbPath(cluster.dir), otherId);
        return (s.dead ?? 0) === total && (o.dead ?? 0) === others ? s : undefined;
      },
      90_000,
      250,
    );
    const whileDown = await service.stats();
    const deadAttempts = audit({
      meshDb: meshDbPath(cluster.dir),
      handlerDb: handlerDbPath(cluster.dir),
      subscriptionId,
    }).attempts;
    notes.push(
      allDead
        ? `all ${n(total)} deliveries dead after ${n(deadAttempts)} attempts (${RETRIES + 1} each); the service refused ${n(whileDown.refusedDown)} requests, ran the handler ${whileDown.effects} times`
        : `not every delivery went dead: ${JSON.stringify(deliveryStatus(meshDbPath(cluster.dir), subscriptionId))}`,
    );

    await service.control({ down: false });
    const replay = await adminRequest(mesh.url, 'POST', '/v1/deliveries/retry', {
      status: 'dead',
      type: PAID_TYPE,
    });
    const replayed = (replay.json as { replayed?: number }).replayed ?? -1;
    const delivered = await waitFor(
      () => {
        const s = deliveryStatus(meshDbPath(cluster.dir), subscriptionId);
        return (s.delivered ?? 0) === total ? s : undefined;
      },
      90_000,
      250,
    );
    const again = await adminRequest(mesh.url, 'POST', '/v1/deliveries/retry', {
      status: 'dead',
      type: PAID_TYPE,
    });
    const replayedAgain = (again.json as { replayed?: number }).replayed ?? -1;
    const otherAfter = deliveryStatus(meshDbPath(cluster.dir), otherId);
    const result = audit({
      meshDb: meshDbPath(cluster.dir),
      handlerDb: handlerDbPath(cluster.dir),
      subscriptionId,
      acked,
    });
    notes.push(
      `replay by filter answered ${replay.status} { replayed: ${replayed} }; a second replay ${again.status} { replayed: ${replayedAgain} }`,
      `after the replay: ${JSON.stringify(result.byStatus)}, ${n(result.effects)} effects; the other type's ${others} dead deliveries: ${JSON.stringify(otherAfter)}`,
    );
    if (!delivered) notes.push('timed out waiting for the replayed deliveries');
    const lost = result.ackedMissing + result.undelivered + (total - acked.size);
    return {
      scenario: '2. handler down, dead, replay',
      load: `${n(total)} events (+${others} of another type)`,
      faults: `${n(total)} dead after ${RETRIES + 1} attempts each, replay by filter`,
      badInputs: '—',
      lost,
      duplicates: result.duplicates,
      pass:
        allDead !== undefined &&
        whileDown.effects === 0 &&
        replay.status === 202 &&
        replayed === total &&
        replayedAgain === 0 &&
        (otherAfter.dead ?? 0) === others &&
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
