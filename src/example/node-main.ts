import { ConfigError } from '../index.ts';
import { serveMesh } from '../node.ts';
import { createExampleHandlers } from './handlers.ts';
import { ordersMesh } from './orders.ts';

// `npm start`: the example orders app on Node, through the public `hookmesh/node` entry.
try {
  const served = await serveMesh({ mesh: ordersMesh, handlers: createExampleHandlers() });
  const stop = async () => {
    await served.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`hookmesh: ${error.message}`);
  process.exit(78);
}
