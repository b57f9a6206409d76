import { createExampleHandlers } from '../src/example/handlers.ts';
import { ordersMesh } from '../src/example/orders.ts';
import { createWorker } from '../src/worker.ts';

// wrangler's `main`: the example orders app as a Cloudflare Worker, through `hookmesh/worker`.
export default createWorker({ mesh: ordersMesh, handlers: createExampleHandlers() });
