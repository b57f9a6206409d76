import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// STYLE.md rules 1, 5, 9 and 17: the core speaks web standards only, the handler SDK stands
// alone, relative imports carry `.ts`. Read from the source text, so it holds before any build.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

interface ImportRef {
  /** Path relative to the repository, with `/`. */
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  /** `type`: `import type` / `export type` (erased); `dynamic`: `import('…')` (loaded when run). */
  readonly kind: 'static' | 'type' | 'dynamic';
}

interface SourceFile {
  readonly file: string;
  readonly text: string;
}

/**
 * `import … from`, `import type … from`, `import '…'`, `export … from` (also `export *` and
 * `export type`), statements spanning several lines included. Between the keyword and `from` only
 * binding syntax may stand (names, braces, commas, `*`, `as`, `type`), so `export const x = '…'`
 * is no import, and a statement is recognised only at the start of a line, so examples in doc
 * comments (` * import … from …`) don't count.
 */
const STATIC_IMPORT = /^[ \t]*(?:(?:import|export)\b[\w$\s{},*]*?\bfrom|import)\s*['"]([^'"\n]+)['"]/gm;
/** `import('…')` with a literal specifier. */
const DYNAMIC_IMPORT = /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** Every module specifier a file's text names. */
function parseImports(file: string, text: string): ImportRef[] {
  const refs: ImportRef[] = [];
  const lineAt = (index: number) => text.slice(0, index).split('\n').length;
  for (const match of text.matchAll(STATIC_IMPORT)) {
    // The match may start with the previous line's newline: count from the keyword.
    const kind = /^\s*(import|export)\s+type\s/.test(match[0]) ? 'type' : 'static';
    refs.push({ file, line: lineAt(match.index + match[0].search(/\S/)), specifier: match[1]!, kind });
  }
  for (const match of text.matchAll(DYNAMIC_IMPORT)) {
    const lineStart = text.lastIndexOf('\n', match.index) + 1;
    if (/^\s*(\/\/|\*|\/\*)/.test(text.slice(lineStart, match.index))) continue;
    refs.push({ file, line: lineAt(match.index), specifier: match[1]!, kind: 'dynamic' });
  }
  return refs.sort((a, b) => a.line - b.line);
}

function listTs(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return listTs(path);
      return /\.(m|c)?tsx?$/.test(name) ? [path] : [];
    });
}

function readSources(under: string): SourceFile[] {
  const dir = join(SRC, under);
  if (!existsSync(dir)) return [];
  return listTs(dir).map((path) => ({
    file: relative(ROOT, path).split(sep).join('/'),
    text: readFileSync(path, 'utf8'),
  }));
}

/** Where a relative specifier points, as a repository path with `/`; null for a package. */
function target(ref: ImportRef): string | null {
  if (!ref.specifier.startsWith('.')) return null;
  return relative(ROOT, resolve(ROOT, dirname(ref.file), ref.specifier))
    .split(sep)
    .join('/');
}

const within = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

const describeRef = (ref: ImportRef, why: string) =>
  `${ref.file}:${ref.line} imports '${ref.specifier}' (${why})`;

/** Core imports only core and valibot (rule 1). */
function coreImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      if (to === null) {
        return ref.specifier === 'valibot' ? [] : [describeRef(ref, 'src/core may import only valibot')];
      }
      return within(to, 'src/core') ? [] : [describeRef(ref, 'src/core may not reach outside src/core')];
    }),
  );
}

/** Hono's runtime adapters are what the SDK must not pull in: they are runtime-specific. */
const HONO_RUNTIME_ADAPTER =
  /^hono\/(adapter|aws-lambda|bun|cloudflare-pages|cloudflare-workers|deno|lambda-edge|netlify|node|service-worker|vercel)(\/|$)/;

/**
 * Packages one SDK file may load lazily (`import()`) or name as a type, never import statically:
 * `hookmesh/handler` must not load libSQL's native binding for users of another inbox.
 */
const LAZY_IN_HANDLER: Readonly<Record<string, string>> = {
  '@libsql/client': 'src/handler/libsql-inbox.ts',
  // The Node entry's file inbox, on the binding itself (prepared statements kept).
  libsql: 'src/handler/libsql-file-inbox.ts',
};

/**
 * The SDK's one file on a Node built-in, and the one file that may import it: the Node entry
 * (the `node` condition of `hookmesh/handler`). The web entry's graph never reaches it.
 */
const NODE_CRYPTO_IN_HANDLER = 'src/handler/node-crypto.ts';
const NODE_ENTRY_OF_HANDLER = 'src/handler/node.ts';

/** The handler SDK imports only core, itself, the tracing module, valibot and hono (rule 5). */
function handlerImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      if (to === null) {
        if (ref.specifier === 'node:crypto' && file === NODE_CRYPTO_IN_HANDLER) return [];
        const lazyIn = LAZY_IN_HANDLER[ref.specifier];
        if (lazyIn !== undefined) {
          return file === lazyIn && ref.kind !== 'static'
            ? []
            : [describeRef(ref, `only ${lazyIn} may use it, as import() or import type`)];
        }
        const allowed =
          ref.specifier === 'valibot' ||
          ref.specifier === 'hono' ||
          (ref.specifier.startsWith('hono/') && !HONO_RUNTIME_ADAPTER.test(ref.specifier));
        return allowed
          ? []
          : [describeRef(ref, 'src/handler may import only src/core, src/handler, valibot, hono')];
      }
      if (to === NODE_CRYPTO_IN_HANDLER && file !== NODE_ENTRY_OF_HANDLER) {
        return [describeRef(ref, `only ${NODE_ENTRY_OF_HANDLER} may import ${NODE_CRYPTO_IN_HANDLER}`)];
      }
      return within(to, 'src/core') || within(to, 'src/handler') || within(to, 'src/tracing')
        ? []
        : [describeRef(ref, 'src/handler may import only src/core, src/handler and src/tracing')];
    }),
  );
}

/** The producer's client is runtime-neutral: core, itself, the tracing module, and valibot's types only. */
function clientImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      if (to === null) {
        return ref.specifier === 'valibot' && ref.kind === 'type'
          ? []
          : [describeRef(ref, 'src/client may import only src/core, src/client and valibot types')];
      }
      return within(to, 'src/core') || within(to, 'src/client') || within(to, 'src/tracing')
        ? []
        : [describeRef(ref, 'src/client may import only src/core, src/client and src/tracing')];
    }),
  );
}

/** The one file that speaks to OpenTelemetry: a peer dependency, loaded by every entry. */
const TRACING_FILE = 'src/tracing/tracing.ts';

/**
 * `@opentelemetry/*` only in the tracing file, and that file only `@opentelemetry/api` and core:
 * the handler SDK and the client import it, so it holds to what they may import.
 */
function tracingImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      if (to === null) {
        if (ref.specifier.startsWith('@opentelemetry/')) {
          return file === TRACING_FILE && ref.specifier === '@opentelemetry/api'
            ? []
            : [describeRef(ref, `only ${TRACING_FILE} imports OpenTelemetry, and only @opentelemetry/api`)];
        }
        return within(file, 'src/tracing')
          ? [describeRef(ref, 'src/tracing may import only @opentelemetry/api and src/core')]
          : [];
      }
      return within(file, 'src/tracing') && !within(to, 'src/core') && !within(to, 'src/tracing')
        ? [describeRef(ref, 'src/tracing may import only @opentelemetry/api and src/core')]
        : [];
    }),
  );
}

/** The Drizzle schema: drizzle-kit reads it to generate `migrations/`; nothing runs it. */
const SCHEMA_FILE = 'src/store/schema.ts';

/**
 * The stores run plain SQL over `SqlDriver`, so no bundle carries Drizzle's query builder: only
 * the schema names drizzle-orm (its `sqlite-core`, rule 6, and the `sql` tag its partial indexes and
 * CHECKs are written with), and nothing imports the schema.
 */
function drizzleImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      if (to === SCHEMA_FILE) {
        return [describeRef(ref, `${SCHEMA_FILE} is read by drizzle-kit only: nothing imports it`)];
      }
      if (to !== null || !/^drizzle-orm(\/|$)/.test(ref.specifier)) return [];
      if (file === SCHEMA_FILE && /^drizzle-orm(\/sqlite-core)?$/.test(ref.specifier)) return [];
      return [describeRef(ref, `the runtime runs plain SQL; only ${SCHEMA_FILE} uses drizzle-orm`)];
    }),
  );
}

/** The package's entries (package.json `exports`), as source files. */
const PUBLIC_ENTRIES = new Set([
  'src/index.ts',
  'src/node.ts',
  'src/deno.ts',
  'src/worker.ts',
  'src/handler/index.ts',
  'src/client/index.ts',
  'src/testing/index.ts',
]);

/**
 * Eat our own cooking: the example app and the repository's Worker use hookmesh only through its
 * public entries, as a user's app would; and nothing of hookmesh itself knows the example.
 */
function exampleImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      const isExample = within(file, 'src/example') || within(file, 'worker');
      if (!isExample) {
        return to !== null && within(to, 'src/example')
          ? [describeRef(ref, 'only the example and worker/ may import src/example')]
          : [];
      }
      if (to === null || within(to, 'src/example') || PUBLIC_ENTRIES.has(to)) return [];
      return [describeRef(ref, 'the example uses hookmesh only through its public entries')];
    }),
  );
}

/**
 * Relative imports name the file, `.ts` included (`.tsx` for the dashboard's JSX views, which Deno
 * and the build handle alike), and the file exists (rule 9).
 */
function relativeImportViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) =>
    parseImports(file, text).flatMap((ref) => {
      const to = target(ref);
      if (to === null) return [];
      if (!/\.tsx?$/.test(ref.specifier)) return [describeRef(ref, 'relative imports end with .ts')];
      return existsSync(join(ROOT, to)) ? [] : [describeRef(ref, `${to} does not exist`)];
    }),
  );
}

const RUNTIME_GLOBALS = new Set(['process', 'Buffer', 'Deno']);

/**
 * Uses of `process.`, `Buffer.`, `Deno.` (also through `globalThis.`), read from the syntax tree
 * so comments and strings that mention them don't count.
 */
function runtimeGlobalViolations(files: readonly SourceFile[]): string[] {
  return files.flatMap(({ file, text }) => {
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const found: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
        let object = node.expression;
        if (
          ts.isPropertyAccessExpression(object) &&
          ts.isIdentifier(object.expression) &&
          object.expression.text === 'globalThis'
        ) {
          object = object.name;
        }
        const viaGlobalThis =
          ts.isElementAccessExpression(node) &&
          ts.isIdentifier(node.expression) &&
          node.expression.text === 'globalThis' &&
          ts.isStringLiteralLike(node.argumentExpression) &&
          RUNTIME_GLOBALS.has(node.argumentExpression.text);
        if (viaGlobalThis || (ts.isIdentifier(object) && RUNTIME_GLOBALS.has(object.text))) {
          const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
          found.push(
            `${file}:${line + 1} uses '${node.getText(source)}' (src/core speaks web standards only)`,
          );
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
  });
}

/** The specifiers TypeScript itself sees, to hold the regex to account. */
function importsByTypeScript(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('architecture', () => {
  const core = readSources('core');
  const handler = readSources('handler');
  const all = readSources('.');

  it('finds the sources', () => {
    expect(core.length).toBeGreaterThan(5);
    expect(handler.length).toBeGreaterThan(0);
  });

  it('keeps src/core free of imports outside core except valibot (rule 1)', () => {
    expect(coreImportViolations(core)).toEqual([]);
  });

  it('keeps src/core free of process, Buffer and Deno (rule 1)', () => {
    expect(runtimeGlobalViolations(core)).toEqual([]);
  });

  it('keeps the handler SDK to core, itself, valibot and hono (rule 5)', () => {
    expect(handlerImportViolations(handler)).toEqual([]);
  });

  it('keeps the producer client to core and valibot types', () => {
    const client = readSources('client');
    expect(client.length).toBeGreaterThan(0);
    expect(clientImportViolations(client)).toEqual([]);
    expect(runtimeGlobalViolations(client)).toEqual([]);
  });

  it('keeps OpenTelemetry to the tracing file, and that file to @opentelemetry/api and core', () => {
    expect(readSources('tracing').map((f) => f.file)).toContain(TRACING_FILE);
    expect(tracingImportViolations(all)).toEqual([]);
    expect(runtimeGlobalViolations(readSources('tracing'))).toEqual([]);
  });

  it('keeps drizzle-orm out of the runtime: only the schema imports it, and nothing in src imports the schema', () => {
    const worker = listTs(join(ROOT, 'worker')).map((path) => ({
      file: relative(ROOT, path).split(sep).join('/'),
      text: readFileSync(path, 'utf8'),
    }));
    expect(all.some((f) => f.file === SCHEMA_FILE)).toBe(true);
    expect(drizzleImportViolations([...all, ...worker])).toEqual([]);
  });

  it('has the example app and worker/ use only the public entries, and nothing else use the example', () => {
    const worker = listTs(join(ROOT, 'worker')).map((path) => ({
      file: relative(ROOT, path).split(sep).join('/'),
      text: readFileSync(path, 'utf8'),
    }));
    expect(exampleImportViolations([...all, ...worker])).toEqual([]);
  });

  it('writes relative imports in src/ with their .ts extension (rule 9)', () => {
    expect(relativeImportViolations(all)).toEqual([]);
  });

  it('reads every import of src/ that TypeScript sees', () => {
    const missed = all.flatMap(({ file, text }) => {
      const byRegex = parseImports(file, text).map((r) => r.specifier);
      return importsByTypeScript(file, text)
        .filter((s) => !byRegex.includes(s))
        .map((s) => `${file}: '${s}'`);
    });
    expect(missed).toEqual([]);
  });
});

describe('the architecture checks themselves', () => {
  const fixture = (file: string, text: string): SourceFile[] => [{ file, text }];

  it('flag the example reaching past the public entries, and runtime code importing the example', () => {
    const example = [
      "import { serveMesh } from '../node.ts';",
      "import { createLocalMesh } from '../runtime/local-mesh.ts';",
      "import { ordersMesh } from './orders.ts';",
    ].join('\n');
    expect(exampleImportViolations(fixture('src/example/main.ts', example))).toEqual([
      "src/example/main.ts:2 imports '../runtime/local-mesh.ts' (the example uses hookmesh only through its public entries)",
    ]);
    expect(
      exampleImportViolations(
        fixture('src/runtime/x.ts', "import { ordersMesh } from '../example/orders.ts';"),
      ),
    ).toEqual([
      "src/runtime/x.ts:1 imports '../example/orders.ts' (only the example and worker/ may import src/example)",
    ]);
    expect(
      clientImportViolations(
        fixture('src/client/x.ts', "import { Hono } from 'hono';\nimport * as v from 'valibot';"),
      ),
    ).toHaveLength(2);
  });

  it('parse multi-line, type-only, side-effect, re-export and dynamic imports with their lines', () => {
    const text = [
      "import * as v from 'valibot';",
      'import type {',
      '  A,',
      '  B,',
      "} from './a.ts';",
      "import './side-effect.ts';",
      "export { c } from './c.ts';",
      "export type { D } from './d.ts';",
      "export * from './e.ts';",
      "export const url = 'https://example.com';",
      '/**',
      " * @example import { x } from 'hookmesh';",
      " * await import('node:fs');",
      ' */',
      "const lazy = () => import('./lazy.ts');",
    ].join('\n');

    expect(parseImports('src/core/x.ts', text)).toEqual([
      { file: 'src/core/x.ts', line: 1, specifier: 'valibot', kind: 'static' },
      { file: 'src/core/x.ts', line: 2, specifier: './a.ts', kind: 'type' },
      { file: 'src/core/x.ts', line: 6, specifier: './side-effect.ts', kind: 'static' },
      { file: 'src/core/x.ts', line: 7, specifier: './c.ts', kind: 'static' },
      { file: 'src/core/x.ts', line: 8, specifier: './d.ts', kind: 'type' },
      { file: 'src/core/x.ts', line: 9, specifier: './e.ts', kind: 'static' },
      { file: 'src/core/x.ts', line: 15, specifier: './lazy.ts', kind: 'dynamic' },
    ]);
  });

  it('flag what core must not import, with file:line', () => {
    const text = [
      "import { x } from './ok.ts';",
      "import { readFileSync } from 'node:fs';",
      "import type {\n  Client,\n} from '@libsql/client';",
      "import { Hono } from 'hono';",
      "import { eq } from 'drizzle-orm';",
      "import type { OutboxDatabase } from '../store/sql-outbox-store.ts';",
    ].join('\n');

    expect(coreImportViolations(fixture('src/core/bad.ts', text))).toEqual([
      "src/core/bad.ts:2 imports 'node:fs' (src/core may import only valibot)",
      "src/core/bad.ts:3 imports '@libsql/client' (src/core may import only valibot)",
      "src/core/bad.ts:6 imports 'hono' (src/core may import only valibot)",
      "src/core/bad.ts:7 imports 'drizzle-orm' (src/core may import only valibot)",
      "src/core/bad.ts:8 imports '../store/sql-outbox-store.ts' (src/core may not reach outside src/core)",
    ]);
  });

  it('flag process, Buffer and Deno in code but not in comments or strings', () => {
    const text = [
      '// process.exit() would be wrong here',
      "const msg = 'set process.env.X';",
      'const env = process.env.NODE_ENV;',
      "const b = Buffer.from('x');",
      'const d = globalThis.Deno?.version;',
      "const p = globalThis['process'];",
      "const q = process['env'];",
    ].join('\n');

    expect(runtimeGlobalViolations(fixture('src/core/bad.ts', text))).toEqual([
      "src/core/bad.ts:3 uses 'process.env' (src/core speaks web standards only)",
      "src/core/bad.ts:4 uses 'Buffer.from' (src/core speaks web standards only)",
      "src/core/bad.ts:5 uses 'globalThis.Deno?.version' (src/core speaks web standards only)",
      "src/core/bad.ts:6 uses 'globalThis['process']' (src/core speaks web standards only)",
      "src/core/bad.ts:7 uses 'process['env']' (src/core speaks web standards only)",
    ]);
  });

  it('flag what the handler SDK must not import', () => {
    const text = [
      "import { Hono } from 'hono';",
      "import { HTTPException } from 'hono/http-exception';",
      "import * as v from 'valibot';",
      "import type { Subscription } from '../core/subscription.ts';",
      "import { verify } from './verify.ts';",
      "import { createLibsqlStore } from '../store/libsql-store.ts';",
      "import { createQStashTransport } from '../transports/qstash.ts';",
      "import { Agent } from 'undici';",
      "import { Receiver } from '@upstash/qstash';",
      "import { handle } from 'hono/aws-lambda';",
    ].join('\n');

    expect(handlerImportViolations(fixture('src/handler/bad.ts', text))).toEqual([
      "src/handler/bad.ts:6 imports '../store/libsql-store.ts' (src/handler may import only src/core, src/handler and src/tracing)",
      "src/handler/bad.ts:7 imports '../transports/qstash.ts' (src/handler may import only src/core, src/handler and src/tracing)",
      "src/handler/bad.ts:8 imports 'undici' (src/handler may import only src/core, src/handler, valibot, hono)",
      "src/handler/bad.ts:9 imports '@upstash/qstash' (src/handler may import only src/core, src/handler, valibot, hono)",
      "src/handler/bad.ts:10 imports 'hono/aws-lambda' (src/handler may import only src/core, src/handler, valibot, hono)",
    ]);
  });

  it('flag OpenTelemetry outside the tracing file, and the tracing file reaching past core', () => {
    expect(
      tracingImportViolations([
        ...fixture('src/api/x.ts', "import { trace } from '@opentelemetry/api';"),
        ...fixture(
          TRACING_FILE,
          [
            "import { trace } from '@opentelemetry/api';",
            "import type { LeasedDelivery } from '../core/dispatch-queue.ts';",
            "import { W3CTraceContextPropagator } from '@opentelemetry/core';",
            "import { Hono } from 'hono';",
            "import { problem } from '../api/problem.ts';",
          ].join('\n'),
        ),
      ]),
    ).toEqual([
      "src/api/x.ts:1 imports '@opentelemetry/api' (only src/tracing/tracing.ts imports OpenTelemetry, and only @opentelemetry/api)",
      "src/tracing/tracing.ts:3 imports '@opentelemetry/core' (only src/tracing/tracing.ts imports OpenTelemetry, and only @opentelemetry/api)",
      "src/tracing/tracing.ts:4 imports 'hono' (src/tracing may import only @opentelemetry/api and src/core)",
      "src/tracing/tracing.ts:5 imports '../api/problem.ts' (src/tracing may import only @opentelemetry/api and src/core)",
    ]);
  });

  it('let only the libSQL inbox name @libsql/client, and only lazily or as a type', () => {
    const lazy = [
      "import type { Client } from '@libsql/client';",
      "const { createClient } = await import('@libsql/client');",
      // Elided names still load the module under verbatimModuleSyntax.
      "import { type Client } from '@libsql/client';",
      "import { createClient } from '@libsql/client';",
      "export type { Client } from '@libsql/client';",
    ].join('\n');
    const elsewhere = "import type { Client } from '@libsql/client';\nawait import('@libsql/client');";

    expect(handlerImportViolations(fixture('src/handler/libsql-inbox.ts', lazy))).toEqual([
      "src/handler/libsql-inbox.ts:3 imports '@libsql/client' (only src/handler/libsql-inbox.ts may use it, as import() or import type)",
      "src/handler/libsql-inbox.ts:4 imports '@libsql/client' (only src/handler/libsql-inbox.ts may use it, as import() or import type)",
    ]);
    expect(handlerImportViolations(fixture('src/handler/d1-inbox.ts', elsewhere))).toEqual([
      "src/handler/d1-inbox.ts:1 imports '@libsql/client' (only src/handler/libsql-inbox.ts may use it, as import() or import type)",
      "src/handler/d1-inbox.ts:2 imports '@libsql/client' (only src/handler/libsql-inbox.ts may use it, as import() or import type)",
    ]);
  });

  it('let only the Node entry of the SDK reach node:crypto, through its one file', () => {
    expect(
      handlerImportViolations(fixture(NODE_CRYPTO_IN_HANDLER, "import { createHmac } from 'node:crypto';")),
    ).toEqual([]);
    expect(
      handlerImportViolations(fixture(NODE_ENTRY_OF_HANDLER, "import { x } from './node-crypto.ts';")),
    ).toEqual([]);
    expect(
      handlerImportViolations([
        ...fixture('src/handler/webhook-app.ts', "import { nodeQStashCrypto } from './node-crypto.ts';"),
        ...fixture('src/handler/index.ts', "import { createHash } from 'node:crypto';"),
      ]),
    ).toEqual([
      "src/handler/webhook-app.ts:1 imports './node-crypto.ts' (only src/handler/node.ts may import src/handler/node-crypto.ts)",
      "src/handler/index.ts:1 imports 'node:crypto' (src/handler may import only src/core, src/handler, valibot, hono)",
    ]);
  });

  it('flag drizzle-orm outside the schema, and any import of the schema', () => {
    const store = [
      "import { eq } from 'drizzle-orm';",
      "import { drizzle } from 'drizzle-orm/libsql';",
      "import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';",
      "import * as schema from './schema.ts';",
      "import { createD1Driver } from './d1-driver.ts';",
    ].join('\n');
    expect(drizzleImportViolations(fixture('src/store/x.ts', store))).toEqual([
      "src/store/x.ts:1 imports 'drizzle-orm' (the runtime runs plain SQL; only src/store/schema.ts uses drizzle-orm)",
      "src/store/x.ts:2 imports 'drizzle-orm/libsql' (the runtime runs plain SQL; only src/store/schema.ts uses drizzle-orm)",
      "src/store/x.ts:3 imports 'drizzle-orm/sqlite-core' (the runtime runs plain SQL; only src/store/schema.ts uses drizzle-orm)",
      "src/store/x.ts:4 imports './schema.ts' (src/store/schema.ts is read by drizzle-kit only: nothing imports it)",
    ]);
    expect(
      drizzleImportViolations(
        fixture('src/runtime/x.ts', "import type { subscriptions } from '../store/schema.ts';"),
      ),
    ).toEqual([
      "src/runtime/x.ts:1 imports '../store/schema.ts' (src/store/schema.ts is read by drizzle-kit only: nothing imports it)",
    ]);
    const schema =
      "import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';\nimport { sql } from 'drizzle-orm';\nimport { drizzle } from 'drizzle-orm/libsql';";
    expect(drizzleImportViolations(fixture(SCHEMA_FILE, schema))).toEqual([
      "src/store/schema.ts:3 imports 'drizzle-orm/libsql' (the runtime runs plain SQL; only src/store/schema.ts uses drizzle-orm)",
    ]);
  });

  it('flag relative imports without .ts', () => {
    const text =
      "import { a } from './errors';\nimport { b } from './errors.js';\nimport { c } from './errors.ts';";

    expect(relativeImportViolations(fixture('src/core/x.ts', text))).toEqual([
      "src/core/x.ts:1 imports './errors' (relative imports end with .ts)",
      "src/core/x.ts:2 imports './errors.js' (relative imports end with .ts)",
    ]);
  });
});
