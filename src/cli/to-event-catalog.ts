import { integrationEventSchemaName, toIntegrationEventSchemas } from '../api/openapi/event-catalog.ts';
import { createSchemaConverter } from '../api/openapi/schema-converter.ts';
import type { JsonSchema } from '../core/json-schema-view.ts';
import type { Registry } from '../core/registry.ts';
import type { EventCatalog } from '../core/schema-compat.ts';

const COMPONENT_REF = /^#\/components\/schemas\/(.+)$/;

/**
 * The app's integration event payloads as JSON Schema — the same conversion as the OpenAPI
 * document's (the output side: what subscribers receive), but each schema self-contained: the
 * definitions a recursive schema refers to move into its own `$defs`. Types and keys are sorted
 * (and `required` lists), so reordering fields in the source leaves the catalog's text alone.
 * @example JSON.stringify(toEventCatalog(createRegistry(definitions)), null, 2)
 */
export function toEventCatalog(registry: Pick<Registry, 'integrationEvents'>): EventCatalog {
  const converter = createSchemaConverter();
  const schemas = toIntegrationEventSchemas(registry, converter);
  const components = converter.components as Record<string, unknown>;
  const integrationEvents: Record<string, JsonSchema> = {};
  for (const type of [...registry.integrationEvents.keys()].sort()) {
    const schema = schemas[integrationEventSchemaName(type)] as Record<string, unknown>;
    integrationEvents[type] = sortKeys(withOwnDefinitions(schema, components)) as JsonSchema;
  }
  return { integrationEvents };
}

/** The schema with `#/components/schemas/X` refs pointing at `#/$defs/X`, and those X (transitively) in `$defs`. */
function withOwnDefinitions(
  schema: Record<string, unknown>,
  components: Record<string, unknown>,
): Record<string, unknown> {
  const needed: string[] = [];
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== 'object' || node === null) return node;
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const match = key === '$ref' && typeof value === 'string' ? COMPONENT_REF.exec(value) : null;
      if (match && Object.hasOwn(components, match[1]!)) {
        if (!needed.includes(match[1]!)) needed.push(match[1]!);
        copy[key] = `#/$defs/${match[1]}`;
      } else {
        copy[key] = rewrite(value);
      }
    }
    return copy;
  };
  const root = rewrite(schema) as Record<string, unknown>;
  const definitions: Record<string, unknown> = {};
  // `needed` grows while it is walked: a definition may refer to others.
  for (let index = 0; index < needed.length; index++) {
    const name = needed[index]!;
    definitions[name] = rewrite(components[name]);
  }
  return needed.length > 0 ? { ...root, $defs: definitions } : root;
}

/** Keywords whose values are data, not schemas: their arrays are never reordered. */
const DATA_KEYWORDS = new Set(['const', 'default', 'enum', 'examples']);

/** Object keys in code-point order at every depth, and `required` lists sorted; other arrays keep their order. */
function sortKeys(node: unknown, key?: string, inData = false): unknown {
  if (Array.isArray(node)) {
    const items = node.map((item) => sortKeys(item, undefined, inData));
    return !inData && key === 'required' && items.every((item) => typeof item === 'string')
      ? items.sort()
      : items;
  }
  if (typeof node !== 'object' || node === null) return node;
  const sorted: Record<string, unknown> = {};
  for (const name of Object.keys(node).sort()) {
    const value = (node as Record<string, unknown>)[name];
    sorted[name] = sortKeys(value, name, inData || DATA_KEYWORDS.has(name));
  }
  return sorted;
}
