import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { createIdGenerator, cryptoRandom } from '../../src/core/ids.ts';

describe('ids', () => {
  it('are UUIDv7: version and variant bits, the millisecond in front, unique', () => {
    const clock = createManualClock(Date.UTC(2026, 10, 30));
    const newId = createIdGenerator(clock);
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      if (i % 1000 === 0) clock.advance(1);
      ids.add(newId());
    }
    expect(ids.size).toBe(5000);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const first = [...ids][0]!;
    expect(Number.parseInt(first.replaceAll('-', '').slice(0, 12), 16)).toBe(clock.now() - 4);
  });

  it('draws from a pool without ever handing out the same bytes twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(Buffer.from(cryptoRandom(new Uint8Array(16))).toString('hex'));
    expect(seen.size).toBe(1000);
    expect(cryptoRandom(new Uint8Array(10_000)).some((b) => b !== 0)).toBe(true);
  });
});
