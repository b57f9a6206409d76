// The mesh of `npm run reliability`, run as `npm start` runs the example — `serveMesh` from
// `hookmesh/node`, configured by the environment (HOOKMESH_ROLE=api|dispatcher|all, PORT,
// DATABASE_URL, …) — with the example's converters. Subscriptions are the harness's, created
// through the admin API; `RELIABILITY_CODE_SUBSCRIPTIONS` (a JSON array of `{ type, url, id }`)
// adds trusted ones declared in code.
import { OrderCreatedV1, OrderPaidV1, orderConverters } from '../../src/example/orders.ts';
import { defineMesh, defineSubscription } from '../../src/index.ts';
import { serveMesh } from '../../src/node.ts';

const declared = JSON.parse(process.env.RELIABILITY_CODE_SUBSCRIPTIONS ?? '[]') as {
  type: 'order.created.v1' | 'order.paid.v1';
  url: string;
  id: string;
  retries?: number;
}[];
const definitions = { 'order.created.v1': OrderCreatedV1, 'order.paid.v1': OrderPaidV1 } as const;

const mesh = await serveMesh({
  mesh: defineMesh({
    converters: orderConverters,
    subscriptions: declared.map((s) =>
      defineSubscription(definitions[s.type], s.url, {
        id: s.id,
        ...(s.retries === undefined ? {} : { retries: s.retries }),
      }),
    ),
  }),
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await mesh.close();
    process.exit(0);
  });
}
