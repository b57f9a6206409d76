import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MeshDefinition } from '../core/mesh-definition.ts';
import { createRegistry, type MeshDefinitions, type Registry } from '../core/registry.ts';
import { oneLine } from './cli-io.ts';

/**
 * What a mesh function is called with when only its definitions are wanted: a reserved name
 * (RFC 2606), so no subscription built from it can ever be reached.
 */
export const PLACEHOLDER_PUBLIC_URL = 'https://mesh.invalid';

const DEFINITION_KEYS = ['domainEvents', 'integrationEvents', 'converters', 'subscriptions'] as const;

export type LoadMeshResult = { ok: true; registry: Registry } | { ok: false; error: string };

/**
 * Imports the user's mesh module (a path relative to `cwd`) and indexes the definitions it exports
 * as `exportName` — by default `mesh`, else the default export. A function of `{ publicUrl }` is
 * called with a placeholder URL. Every failure is a one-line error, never a throw.
 * @example const loaded = await loadMesh('./dist/mesh.js', undefined, process.cwd());
 */
export async function loadMesh(
  specifier: string,
  exportName: string | undefined,
  cwd: string,
): Promise<LoadMeshResult> {
  const path = resolve(cwd, specifier);
  if (!existsSync(path)) return { ok: false, error: `cannot find the mesh module ${specifier}` };
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, error: describeImportFailure(specifier, error) };
  }
  const name = exportName ?? (Object.hasOwn(module, 'mesh') ? 'mesh' : 'default');
  if (!Object.hasOwn(module, name) || module[name] === undefined) {
    const names = Object.keys(module).filter((key) => key !== 'default');
    const listed = names.length > 0 ? ` (it exports ${names.join(', ')})` : '';
    const hint = exportName === undefined ? '; name the export with --export <name>' : '';
    const wanted =
      exportName === undefined
        ? '"mesh" export and no default export'
        : `export ${JSON.stringify(exportName)}`;
    return { ok: false, error: `${specifier} has no ${wanted}${listed}${hint}` };
  }
  const what = `${specifier}'s ${name === 'default' ? 'default export' : `"${name}"`}`;
  let definitions: unknown;
  try {
    const value = module[name];
    definitions =
      typeof value === 'function'
        ? (value as Exclude<MeshDefinition, MeshDefinitions>)({ publicUrl: PLACEHOLDER_PUBLIC_URL })
        : value;
  } catch (error) {
    return { ok: false, error: `${what} threw when called with { publicUrl }: ${oneLine(error)}` };
  }
  if (!isMeshDefinitions(definitions)) {
    return {
      ok: false,
      error: `${what} is not a mesh: expected defineMesh({ integrationEvents?, converters?, subscriptions? }) or a function of { publicUrl } returning one`,
    };
  }
  try {
    return { ok: true, registry: createRegistry(definitions) };
  } catch (error) {
    return { ok: false, error: `${what} is not a valid mesh: ${oneLine(error)}` };
  }
}

function isMeshDefinitions(value: unknown): value is MeshDefinitions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  const present = DEFINITION_KEYS.filter((key) => record[key] !== undefined);
  return present.length > 0 && present.every((key) => Array.isArray(record[key]));
}

/** Node's reasons, said for a user: a TypeScript module needs a loader this Node lacks. */
export function describeImportFailure(specifier: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(specifier)) {
    return (
      `cannot load ${specifier}: this Node does not run TypeScript; run hookmesh through tsx ` +
      `(NODE_OPTIONS="--import tsx" npx hookmesh …), on Node >= 22.18 (type stripping), or point --mesh at the compiled .js`
    );
  }
  return `cannot load ${specifier}: ${oneLine(error)}`;
}
