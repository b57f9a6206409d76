import type { OpenApiDocument, SchemaObject } from './openapi-types.ts';

/** One row of an event's field table: where it is, what it holds, what else is required of it. */
export interface CatalogField {
  /** Dotted path into the payload (`order.total`, `lines[].sku`). */
  readonly path: string;
  readonly type: string;
  readonly required: boolean;
  readonly notes: readonly string[];
}

/** One event of the catalog and the fields of its payload. */
export interface CatalogEvent {
  readonly type: string;
  readonly fields: readonly CatalogField[];
}

/** The catalog's two lists, read from an OpenAPI document made by `createOpenApiDocument`. */
export interface Catalog {
  /** What producers POST to `/v1/events`: each type's `data`. */
  readonly domainEvents: readonly CatalogEvent[];
  /** What subscribers receive (`webhooks`): each type's body. */
  readonly integrationEvents: readonly CatalogEvent[];
}

/**
 * Reads the event catalog out of the mesh's OpenAPI document, for a page to show.
 * @example const { domainEvents } = toCatalog(createOpenApiDocument(options));
 */
export function toCatalog(document: OpenApiDocument): Catalog {
  const schemas = document.components.schemas;
  const resolve = (schema: SchemaObject | undefined, seen = new Set<string>()): SchemaObject => {
    const ref = schema?.$ref;
    if (!ref?.startsWith('#/components/schemas/')) return schema ?? {};
    const name = ref.slice('#/components/schemas/'.length);
    if (seen.has(name)) return {};
    return resolve(schemas[name], new Set([...seen, name]));
  };
  const mapping = schemas.DomainEvent?.discriminator?.mapping ?? {};
  const domainEvents = Object.entries(mapping).map(([type, $ref]) => {
    const data = resolve({ $ref }).properties?.data;
    return { type, fields: toFields(typeof data === 'object' ? data : {}, resolve) };
  });
  const integrationEvents = Object.entries(document.webhooks).map(([type, item]) => {
    const body = item.post?.requestBody?.content['application/json']?.schema;
    return { type, fields: toFields(resolve(body), resolve) };
  });
  return { domainEvents, integrationEvents };
}

type Resolve = (schema: SchemaObject | undefined) => SchemaObject;

/** Flattens an object schema into rows, nested objects and arrays of objects included. */
function toFields(schema: SchemaObject, resolve: Resolve, prefix = '', depth = 0): CatalogField[] {
  const fields: CatalogField[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const field = resolve(typeof property === 'object' ? property : {});
    const path = `${prefix}${name}`;
    fields.push({
      path,
      type: typeLabel(field, resolve),
      required: required.has(name),
      notes: notesOf(field),
    });
    // Deep enough for any real payload; stops a recursive schema.
    if (depth >= 8) continue;
    const items =
      typeof field.items === 'object' && !Array.isArray(field.items) ? resolve(field.items) : null;
    if (field.properties) fields.push(...toFields(field, resolve, `${path}.`, depth + 1));
    else if (items?.properties) fields.push(...toFields(items, resolve, `${path}[].`, depth + 1));
  }
  return fields;
}

function typeLabel(schema: SchemaObject, resolve: Resolve): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    return alternatives
      .map((option) => typeLabel(resolve(typeof option === 'object' ? option : {}), resolve))
      .join(' | ');
  }
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length === 0) return 'any';
  return types
    .map((type) => {
      if (type === 'array' && typeof schema.items === 'object' && !Array.isArray(schema.items)) {
        return `${typeLabel(resolve(schema.items), resolve)}[]`;
      }
      return schema.format && type === 'string' ? `string (${schema.format})` : type;
    })
    .join(' | ');
}

function notesOf(schema: SchemaObject): string[] {
  const notes: string[] = [];
  if (schema.description) notes.push(schema.description);
  if (schema.minLength === 1) notes.push('not empty');
  else if (schema.minLength !== undefined) notes.push(`at least ${schema.minLength} characters`);
  if (schema.maxLength !== undefined) notes.push(`at most ${schema.maxLength} characters`);
  if (schema.pattern !== undefined) notes.push(`matches /${schema.pattern}/`);
  if (schema.minimum !== undefined) notes.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) notes.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) notes.push(`≤ ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) notes.push(`< ${schema.exclusiveMaximum}`);
  if (schema.minItems !== undefined) notes.push(`at least ${schema.minItems} items`);
  if (schema.maxItems !== undefined) notes.push(`at most ${schema.maxItems} items`);
  if (schema.$comment) notes.push(schema.$comment);
  return notes;
}
