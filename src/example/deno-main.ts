import { serveMesh } from '../deno.ts';
import { ConfigError } from '../index.ts';
import { createExampleHandlers } from './handlers.ts';
import { ordersMesh } from './orders.ts';

/** The few Deno APIs this file uses (the repository's tsc checks it with Node's types). */
declare const Deno: {
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code: number): never;
};

// `npm run start:deno`: the example orders app on Deno, through the public `hookmesh/deno` entry.
try {
  const served = await serveMesh({ mesh: ordersMesh, handlers: createExampleHandlers() });
  let stopping = false;
  const stop = async () => {
    // A second signal while shutting down gives up waiting.
    if (stopping) Deno.exit(1);
    stopping = true;
    await served.close();
    Deno.exit(0);
  };
  Deno.addSignalListener('SIGINT', stop);
  Deno.addSignalListener('SIGTERM', stop);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`hookmesh: ${error.message}`);
  Deno.exit(78);
}
