// Lints the package as npm would publish it: `npm pack` (which runs `prepare`, the build) into a
// temporary folder, then publint (strict: warnings fail too) and @arethetypeswrong/cli (profile
// esm-only: every problem in the node16-ESM and bundler resolutions fails, whatever its emoji) on
// THAT tarball — not on the working tree, whose files may differ from what `files` ships.
// Exits non-zero on any error. `npm run lint:package`; CI runs it from .ci/run.
// `node .ci/lint-package.mjs <dir>` lints another package folder (to see the checks fail).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PACKAGE_DIR = process.argv[2] ?? ROOT;
/** What `--profile esm-only` leaves out: the package is ESM only, `require` and node10 are not supported. */
const IGNORED_RESOLUTIONS = ['node10', 'node16-cjs'];
const MAX_BUFFER = 64 * 1024 * 1024;

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

function run(command, args, cwd = ROOT) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: MAX_BUFFER });
  if (result.error) throw result.error;
  return result;
}

function pack(dir) {
  const result = run('npm', ['pack', '--json', '--pack-destination', dir], PACKAGE_DIR);
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    throw new Error(`npm pack exited with ${result.status}`);
  }
  // Scripts' output goes to stderr, but a script may also print to stdout: the JSON is the last part.
  const start = result.stdout.search(/^\[/m);
  const [packed] = JSON.parse(result.stdout.slice(start));
  return { ...packed, path: join(dir, packed.filename) };
}

async function lintWithPublint(tarball) {
  const bytes = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: 'suggestion',
    strict: true,
  });
  const count = (type) => messages.filter((m) => m.type === type).length;
  for (const message of messages) {
    console.log(`  publint ${message.type}: ${formatMessage(message, pkg) ?? message.code}`);
  }
  const errors = count('error') + count('warning');
  return {
    ok: errors === 0,
    line: `publint (strict): ${count('error')} errors, ${count('warning')} warnings, ${count('suggestion')} suggestions`,
  };
}

function lintWithAttw(tarball) {
  const bin = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
  const result = run(process.execPath, [bin, tarball, '--profile', 'esm-only', '--format', 'json']);
  let report;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    process.stderr.write(result.stdout + result.stderr);
    return { ok: false, line: `attw: could not run (exit ${result.status})` };
  }
  const { analysis } = report;
  if (!analysis.types) {
    // attw exits 0 on an untyped package; hookmesh must ship its .d.ts.
    return { ok: false, line: 'attw: the package ships no types' };
  }
  const problems = analysis.problems.filter(
    (p) => !('resolutionKind' in p) || !IGNORED_RESOLUTIONS.includes(p.resolutionKind),
  );
  for (const p of problems) {
    const { kind, ...where } = p;
    console.log(`  attw ${kind}: ${JSON.stringify(where)}`);
  }
  const entrypoints = Object.keys(analysis.entrypoints);
  // attw's own verdict (exit 1 on any problem the profile does not ignore) is the one that counts.
  const ok = result.status === 0 && problems.length === 0;
  return {
    ok,
    line: `attw (esm-only): ${entrypoints.length} entrypoints (${entrypoints.join(' ')}), ${problems.length} problems, exit ${result.status}`,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'hookmesh-lint-package-'));
try {
  const packed = pack(dir);
  console.log(
    `packed ${packed.filename}: ${kib(packed.size)} (${packed.size} B), unpacked ${kib(packed.unpackedSize)}, ${packed.entryCount} files`,
  );
  const results = [await lintWithPublint(packed.path), lintWithAttw(packed.path)];
  for (const { ok, line } of results) console.log(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
  if (results.some((r) => !r.ok)) {
    console.log('package lint failed: see above (`npx attw <tarball> --profile esm-only` shows the table)');
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
