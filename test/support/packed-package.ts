import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY = 'ready.json';

/** A user's project with the packed hookmesh installed: no TypeScript, tsx or bundler in it. */
export interface PackedProject {
  /** The project folder (outside the repository); `node_modules/hookmesh` is the installed tarball. */
  readonly dir: string;
  /** The tarball `npm pack` made. */
  readonly tarball: string;
  /** Its size in bytes. */
  readonly tarballBytes: number;
}

let installing: Promise<PackedProject> | undefined;

/**
 * Packs the repository as npm would publish it and installs the tarball into a fresh project under
 * the system temp folder, once per test run (the first caller does it, concurrent callers in other
 * test files wait for it). What the user's project depends on: the tarball, `valibot` (the peer)
 * and `@hono/node-server` (to serve a handler app on Node). Installed from npm's cache when it can.
 * @example const project = await installPackedPackage(); // then run plain .mjs files in project.dir
 */
export function installPackedPackage(): Promise<PackedProject> {
  installing ??= installOnce();
  return installing;
}

async function installOnce(): Promise<PackedProject> {
  // One folder per `vitest run` (the run's start is shared by every worker through the env).
  const base = join(tmpdir(), `hookmesh-packed-${runId()}`);
  const lock = `${base}.lock`;
  for (;;) {
    if (existsSync(join(base, READY))) {
      return JSON.parse(readFileSync(join(base, READY), 'utf8')) as PackedProject;
    }
    try {
      mkdirSync(lock);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(join(base, 'project'), { recursive: true });
    // `npm pack` runs `prepare` (the build), so the tarball holds what a clean clone would publish.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', base], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; size: number }[];
    const tarball = join(base, packed!.filename);
    const dir = join(base, 'project');
    const versions = readDevVersions(['valibot', '@hono/node-server']);
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify(
        {
          name: 'hookmesh-user-project',
          private: true,
          type: 'module',
          dependencies: { hookmesh: `file:${tarball}`, ...versions },
        },
        null,
        2,
      )}\n`,
    );
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
    });
    const project: PackedProject = { dir, tarball, tarballBytes: packed!.size };
    writeFileSync(join(base, READY), JSON.stringify(project));
    return project;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The versions this repository pins, so the user's project runs what the tests run. */
function readDevVersions(names: readonly string[]): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  return Object.fromEntries(
    names.map((name) => [name, pkg.dependencies[name] ?? pkg.devDependencies[name] ?? 'latest']),
  );
}

/** Set by test/support/global-setup.ts for the run; a lone import outside vitest gets its own. */
function runId(): string {
  process.env.HOOKMESH_TEST_RUN ??= `${process.pid}-${Date.now()}`;
  return process.env.HOOKMESH_TEST_RUN;
}

/**
 * Removes this run's fixture (`runIdToRemove`) and those of runs killed before they could clean up
 * (older than a few hours: a concurrent run's fixture is left alone).
 */
export function removePackedProjects(runIdToRemove: string | null): void {
  const staleBefore = Date.now() - 3 * 3_600_000;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('hookmesh-packed-')) continue;
    const path = join(tmpdir(), name);
    const own = runIdToRemove !== null && name.startsWith(`hookmesh-packed-${runIdToRemove}`);
    if (own || statSync(path).mtimeMs < staleBefore) rmSync(path, { recursive: true, force: true });
  }
}

/** A Worker entry bundled from a user's project, and its sizes. */
export interface ProjectWorkerBundle {
  /** Absolute path of the bundle. */
  readonly path: string;
  /** The bundle's text (miniflare takes it as a module's `contents`). */
  readonly code: string;
  readonly bytes: number;
  /** gzip -9 of the bundle: about what Cloudflare counts against a Worker's size limit. */
  readonly gzipBytes: number;
}

/**
 * Bundles a Worker entry of a user's project (e.g. one that does `export default createWorker(...)`)
 * as wrangler would, with what the project installed: one ES module, the `workerd`, `worker` and
 * `browser` export conditions, no Node built-ins, minified. esbuild comes from this repository (the
 * project has no bundler of its own); everything it bundles resolves from the project.
 * @example const bundle = await bundleProjectWorker(dir, 'worker.mjs', join(dir, 'dist', 'worker.js'));
 */
export async function bundleProjectWorker(
  projectDir: string,
  entry: string,
  outfile: string,
): Promise<ProjectWorkerBundle> {
  const [{ build }, { gzipSync }] = await Promise.all([import('esbuild'), import('node:zlib')]);
  await build({
    absWorkingDir: projectDir,
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['browser', 'module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const bytes = readFileSync(outfile);
  return {
    path: outfile,
    code: bytes.toString('utf8'),
    bytes: bytes.byteLength,
    gzipBytes: gzipSync(bytes, { level: 9 }).byteLength,
  };
}
