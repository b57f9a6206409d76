import { build } from 'esbuild';

/**
 * A TypeScript entry compiled to one ESM file for plain Node (packages stay imports), as a
 * deployment runs it: without tsx's loader thread (~37 MiB of resident memory) and with profiles
 * that name functions and lines. Write `outfile` where relative paths resolve as from the entry's
 * own directory (e.g. `../../migrations`), and the packages as from `bench/`.
 * @example const script = await compileForNode(join(root, 'bench/delivery-mesh-entry.ts'), join(root, '.bench-build/scale/mesh.mjs'));
 */
export async function compileForNode(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}
