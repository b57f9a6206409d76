import { ConfigError } from './config.ts';
import { type DenoApi, startDenoMesh } from './deno.ts';

declare const Deno: DenoApi;

// `npm run start:deno`: the mesh on Deno with its embedded defaults.
try {
  const mesh = await startDenoMesh(Deno.env.toObject());
  let stopping = false;
  const stop = async () => {
    // A second signal while shutting down gives up waiting.
    if (stopping) Deno.exit(1);
    stopping = true;
    await mesh.close();
    Deno.exit(0);
  };
  Deno.addSignalListener('SIGINT', stop);
  Deno.addSignalListener('SIGTERM', stop);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`hookmesh: ${error.message}`);
    Deno.exit(78);
  }
  throw error;
}
