// An alternative mesh entry for bench:delivery (BENCH_MESH_ENTRY=bench/delivery-mesh-entry.ts):
// the Node mesh of `npm start` through its public options, with the example's converters but none
// of its code-declared subscriptions or handlers — so the only deliveries are the bench's own.
import { orderConverters } from '../src/example/orders.ts';
import { defineMesh } from '../src/index.ts';
import { serveMesh } from '../src/node.ts';

const mesh = await serveMesh({ mesh: defineMesh({ converters: orderConverters, subscriptions: [] }) });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await mesh.close();
    process.exit(0);
  });
}
