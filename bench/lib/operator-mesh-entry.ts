// bench:operator's mesh: `serveMesh` as users run it, on the filled store (DATABASE_URL, PORT from
// the harness), with the bench's own definitions and HOOKMESH_ROLE=api (nothing moves the data).
import { serveMesh } from '../../src/node.ts';
import { operatorMesh } from './operator-fixture.ts';

const mesh = await serveMesh({ mesh: operatorMesh });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await mesh.close();
    process.exit(0);
  });
}
