import { env } from 'cloudflare:workers';
import { createExampleHandlers } from '../src/example/handlers.ts';
import { ordersMesh } from '../src/example/orders.ts';
import { createWorker } from '../src/worker.ts';

// wrangler's `main`: the example orders app as a Cloudflare Worker, through `hookmesh/worker`. Given
// the bindings, the mesh is composed as workerd evaluates this module, not on the first request.
export default createWorker({ mesh: ordersMesh, handlers: createExampleHandlers(), env });
