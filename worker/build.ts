import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface WorkerBundle {
  /** Absolute path of the bundle (`dist/worker.js` by default). */
  readonly path: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

/**
 * Bundles `worker/index.ts` into one ES module as wrangler would: the `workerd`, `worker` and
 * `browser` export conditions (so `@libsql/client` resolves to its HTTP-only build), no Node
 * built-ins (workerd's `cloudflare:*` modules left to workerd), ES2022, minified. miniflare takes the result as an explicit module list
 * (`modules: [{ type: 'ESModule', path }]`), like wrangler hands it to workerd.
 * @example const { path, bytes, gzipBytes } = await buildWorker();
 */
export async function buildWorker(
  options: { outfile?: string; minify?: boolean } = {},
): Promise<WorkerBundle> {
  const path = resolve(ROOT, options.outfile ?? 'dist/worker.js');
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['worker/index.ts'],
    outfile: path,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['browser', 'module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    // workerd's own modules (`cloudflare:workers`: the bindings in global scope), as wrangler leaves them.
    external: ['cloudflare:*'],
    minify: options.minify ?? true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const code = readFileSync(path);
  return { path, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const bundle = await buildWorker();
  console.log(
    `${relative(ROOT, bundle.path)}: ${kib(bundle.bytes)} (${bundle.bytes} B), gzip ${kib(bundle.gzipBytes)} (${bundle.gzipBytes} B)`,
  );
}
