import {
  type ConversionConfig,
  type JsonSchema,
  type OverrideActionContext,
  type OverrideSchemaContext,
  toJsonSchema,
} from '@valibot/to-json-schema';
import type * as v from 'valibot';

/**
 * Which side of a schema to describe: `input` is what a client sends (conversion stops before the
 * first transform), `output` what the schema produces (what a subscriber receives).
 */
export type SchemaSide = 'input' | 'output';

export interface SchemaConverter {
  /**
   * A valibot schema as an OpenAPI 3.1 Schema Object (JSON Schema 2020-12). Never throws: what
   * JSON Schema cannot say is left out and named in `$comment`, and the mesh still checks it.
   * Recursive (`v.lazy`) parts become `#/components/schemas/<name>.<id>`, kept in `components`.
   */
  toSchemaObject(schema: v.GenericSchema, side: SchemaSide, name: string): JsonSchema;
  /** Definitions the converted schemas refer to, for `components.schemas`. */
  readonly components: Record<string, JsonSchema>;
}

/** Transformations after which the value keeps its JSON type (a trimmed string is a string). */
const TYPE_PRESERVING = new Set([
  'brand',
  'flavor',
  'normalize',
  'readonly',
  'to_lower_case',
  'to_upper_case',
  'trim',
  'trim_end',
  'trim_start',
]);

/** Checks that every JSON value passes anyway: not worth a note. */
const IMPLIED_BY_JSON = new Set(['finite']);

/**
 * Converts with `@valibot/to-json-schema`, whose default `errorMode` throws on the first schema or
 * action JSON Schema cannot express (`v.custom`, `v.check`, `v.transform`, `v.date`, …). The
 * catalog must describe whatever an app defines, so its overrides relax instead:
 * - a check it cannot express is left out: the schema says less than the mesh checks, never more;
 *   a string message becomes the `description`, so a reader still learns the rule;
 * - a transform that may change the type, when describing output, makes the value "any JSON";
 * - a schema it cannot express (`v.custom`, `v.date`) becomes "any JSON" — add
 *   `v.metadata({ type: 'object' })` (or any JSON Schema keywords) after it to describe it.
 * Anything else that still fails (a `v.lazy` getter that reads its input) is caught and the schema
 * becomes "any JSON", with the reason in `$comment`.
 * @example const converter = createSchemaConverter(); converter.toSchemaObject(OrderCreated.schema, 'input', 'OrderCreated')
 */
export function createSchemaConverter(): SchemaConverter {
  const components: Record<string, JsonSchema> = {};
  return {
    components,
    toSchemaObject(schema, side, name) {
      const config: ConversionConfig = {
        target: 'draft-2020-12',
        typeMode: side,
        errorMode: 'throw',
        overrideAction: (context) => relaxAction(context, side),
        overrideSchema: relaxSchema,
        overrideRef: ({ referenceId }) => `#/components/schemas/${componentName(name, referenceId)}`,
      };
      try {
        const { $schema: _, $defs, ...converted } = toJsonSchema(schema, config);
        for (const [id, definition] of Object.entries($defs ?? {})) {
          if (typeof definition === 'object') components[componentName(name, id)] = definition;
        }
        return converted;
      } catch (error) {
        return {
          $comment: `not expressible as JSON Schema (${error instanceof Error ? error.message : String(error)}); the mesh checks it`,
        };
      }
    },
  };
}

function componentName(name: string, referenceId: string): string {
  return `${name}.${referenceId}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

function relaxAction(context: OverrideActionContext, side: SchemaSide): JsonSchema | undefined {
  const { valibotAction: action, jsonSchema, errors } = context;
  if (!errors) return undefined;
  if (IMPLIED_BY_JSON.has(action.type)) return jsonSchema;
  if (action.kind === 'transformation' && side === 'output' && !TYPE_PRESERVING.has(action.type)) {
    return { $comment: `the output of a "${action.type}" transformation: any JSON value` };
  }
  const message = 'message' in action && typeof action.message === 'string' ? action.message : undefined;
  return withNote(jsonSchema, action.type, message);
}

function relaxSchema(context: OverrideSchemaContext): JsonSchema | undefined {
  const { valibotSchema: schema, jsonSchema, errors } = context;
  if (!errors) return undefined;
  const message = 'message' in schema && typeof schema.message === 'string' ? schema.message : undefined;
  return withNote(jsonSchema, schema.type, message);
}

/** The schema as far as it could be converted, saying what the mesh checks beyond it. */
function withNote(jsonSchema: JsonSchema, what: string, message: string | undefined): JsonSchema {
  const note = `the mesh also checks what JSON Schema cannot say here (${what})`;
  return {
    ...jsonSchema,
    ...(message !== undefined && jsonSchema.description === undefined ? { description: message } : {}),
    $comment: jsonSchema.$comment === undefined ? note : `${jsonSchema.$comment}; ${note}`,
  };
}
