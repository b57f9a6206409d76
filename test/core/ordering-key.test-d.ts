import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { defineIntegrationEvent, type IntegrationEventDefinition } from '../../src/core/integration-event.ts';

describe('orderingKey types', () => {
  it("takes the schema's output and returns a string; a keyed definition is still a definition", () => {
    const V1 = defineIntegrationEvent(
      'parcel.moved.v1',
      v.object({ parcelId: v.string(), hops: v.number() }),
      {
        orderingKey: (d) => {
          expectTypeOf(d).toEqualTypeOf<{ parcelId: string; hops: number }>();
          return d.parcelId;
        },
      },
    );
    expectTypeOf(V1).toExtend<IntegrationEventDefinition>();
    // @ts-expect-error a key is a string, not a number
    defineIntegrationEvent('parcel.moved.v2', v.object({ hops: v.number() }), { orderingKey: (d) => d.hops });
  });
});
