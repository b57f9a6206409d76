import { ConfigError } from './config.ts';
import { startNodeMesh } from './node.ts';

// `npm start`: the mesh on Node with its embedded defaults.
try {
  const mesh = await startNodeMesh(process.env);
  const stop = async () => {
    await mesh.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`hookmesh: ${error.message}`);
    process.exit(78);
  }
  throw error;
}
