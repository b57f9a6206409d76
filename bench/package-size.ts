import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bundleProjectWorker,
  installPackedPackage,
  removePackedProjects,
} from '../test/support/packed-package.ts';

// What a user downloads and deploys (issue 7): the packed tarball, and two Workers bundled from the
// installed tarball as wrangler bundles them, minified, gzip -9 — a consuming service that imports
// only `hookmesh/handler` (createWebhookApp + defineHandler + createD1Inbox) and a mesh
// (`createWorker`). The entries are the ones test/package/worker.test.ts runs in workerd.
// Run: npx tsx bench/package-size.ts

const KIB = 1024;
const FIXTURES = fileURLToPath(new URL('../test/package/fixtures/worker/', import.meta.url));
const GOALS = { consumer: 40 * KIB, mesh: 100 * KIB };

const kib = (bytes: number) => `${(bytes / KIB).toFixed(1)} KiB`;

// A packed project of this run's own (never a test run's, which its own teardown removes).
const runId = `size-${process.pid}-${Date.now()}`;
process.env.HOOKMESH_TEST_RUN = runId;
const project = await installPackedPackage();
try {
  const dir = join(project.dir, 'size');
  cpSync(FIXTURES, dir, { recursive: true });
  const [consumer, mesh] = await Promise.all([
    bundleProjectWorker(dir, 'consumer-worker.mjs', join(dir, 'dist', 'consumer-worker.js')),
    bundleProjectWorker(dir, 'worker.mjs', join(dir, 'dist', 'worker.js')),
  ]);
  const rows: [string, number, number | null, number | null][] = [
    ['packed tarball (npm pack)', project.tarballBytes, null, null],
    ['consumer Worker (hookmesh/handler)', consumer.bytes, consumer.gzipBytes, GOALS.consumer],
    ['mesh Worker (hookmesh/worker)', mesh.bytes, mesh.gzipBytes, GOALS.mesh],
  ];
  console.log('what                                  size        gzip        goal (gzip)');
  for (const [what, bytes, gzip, goal] of rows) {
    const verdict = goal === null || gzip === null ? '' : `≤ ${kib(goal)} ${gzip <= goal ? 'met' : 'MISSED'}`;
    console.log(
      `${what.padEnd(38)}${kib(bytes).padEnd(12)}${(gzip === null ? '' : kib(gzip)).padEnd(12)}${verdict}`,
    );
  }
  process.exitCode = consumer.gzipBytes <= GOALS.consumer && mesh.gzipBytes <= GOALS.mesh ? 0 : 1;
} finally {
  // The packed project lives under the system temp folder; this run's goes now.
  removePackedProjects(runId);
}
