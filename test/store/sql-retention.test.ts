import { afterEach, describe, expect, it } from 'vitest';
import { createSqlRetention } from '../../src/store/sql-retention.ts';
import { createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

describe('retention', () => {
  it('purges delivered deliveries and their attempts past the cutoff; keeps dead, pending and recent ones', async () => {
    mesh = await createTestMesh();
    await mesh.post([
      orderCreated('old'),
      orderCreated('dead'),
      orderCreated('pending'),
      orderCreated('recent'),
    ]);
    const now = mesh.clock.now();
    const leased = await mesh.dispatch.leaseDue({ owner: 'o', now, leaseMs: 1000, limit: 10 });
    const byEvent = new Map(
      await Promise.all(
        leased.map(
          async (d) =>
            [
              (
                await mesh.db.driver.query('SELECT domain_event_id FROM integration_events WHERE id = ?', [
                  d.event.id,
                ])
              )[0]!.domain_event_id as string,
              d,
            ] as const,
        ),
      ),
    );
    const record = (event: string, next: 'delivered' | 'dead', at: number) => ({
      deliveryId: byEvent.get(event)!.id,
      owner: 'o',
      number: 1,
      at,
      status: next === 'delivered' ? 200 : 500,
      durationMs: 1,
      error: null,
      responseExcerpt: null,
      next,
      nextAttemptAt: at,
      retried: 0,
    });
    await mesh.dispatch.recordAttempts([
      record('old', 'delivered', now - 10 * 86_400_000),
      record('dead', 'dead', now - 10 * 86_400_000),
      record('recent', 'delivered', now),
    ]);
    const result = await createSqlRetention(mesh.db.driver).purge({
      deliveredBefore: now - 7 * 86_400_000,
      limit: 100,
    });
    expect(result).toMatchObject({ deliveries: 1, attempts: 1 });
    const left = await mesh.db.driver.query(
      'SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status',
    );
    expect(left.map((r) => [r.status, Number(r.n)])).toEqual([
      ['dead', 1],
      ['delivered', 1],
      ['in_flight', 1],
    ]);
    // The events themselves stay: an old id posted again is still a replay, not a new event.
    expect((await mesh.post(orderCreated('old'))).status).toBe(200);
  });
});
