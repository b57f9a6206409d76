import type { GenericSchema } from 'valibot';
import { ADMIN_MAX_BODY_BYTES } from '../admin-input.ts';
import type { ParameterObject, ResponseObject, SchemaObject } from './openapi-types.ts';
import { schemaRef } from './openapi-types.ts';
import type { SchemaConverter } from './schema-converter.ts';

// The pieces the REST paths are built of: parameters, JSON answers and problem answers.

export const UNAUTHORIZED = 'unauthorized: no valid bearer token';
export const ADMIN_ONLY = 'forbidden: this route takes the admin token';
export const BAD_REQUEST = 'bad-request: issues point at the invalid query fields';
export const INTERNAL = 'internal: an unexpected error; nothing was written';
export const DECLARED_IN_CODE = 'conflict: the subscription is declared in code; change it there';

export function adminBodyProblems(extra: Record<number, string> = {}): Record<string, ResponseObject> {
  return problems({
    400: 'bad-request (issues point at the invalid fields), malformed-json',
    401: UNAUTHORIZED,
    403: ADMIN_ONLY,
    413: `payload-too-large: the body exceeds ${ADMIN_MAX_BODY_BYTES} bytes`,
    415: 'unsupported-media-type: send application/json',
    500: INTERNAL,
    ...extra,
  });
}

/** Problem responses (RFC 9457), each saying which `urn:hookmesh:problem:<slug>` it carries. */
export function problems(byStatus: Record<number, string>): Record<string, ResponseObject> {
  const responses: Record<string, ResponseObject> = {};
  for (const [status, description] of Object.entries(byStatus)) {
    const retry = status === '429' || status === '503';
    responses[status] = {
      description,
      ...(status === '401'
        ? { headers: { 'WWW-Authenticate': { required: true, schema: { type: 'string', const: 'Bearer' } } } }
        : {}),
      ...(retry
        ? { headers: { 'Retry-After': { description: 'Seconds', schema: { type: 'string' } } } }
        : {}),
      content: { 'application/problem+json': { schema: schemaRef('Problem') } },
    };
  }
  return responses;
}

export function json(description: string, schema: SchemaObject): ResponseObject {
  return { description, content: { 'application/json': { schema } } };
}

export function receipts(): SchemaObject {
  return { oneOf: [schemaRef('EventReceipt'), schemaRef('EventReceipts')] };
}

export function header(name: string, description: string, schema: SchemaObject): ParameterObject {
  return { name, in: 'header', required: false, description, schema };
}

export function pathId(description: string): ParameterObject {
  return { name: 'id', in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } };
}

/** A query schema (a valibot object over strings) as one query parameter per field. */
export function queryParameters(
  converter: SchemaConverter,
  schema: GenericSchema,
  name: string,
): ParameterObject[] {
  const converted = converter.toSchemaObject(schema, 'input', name);
  const required = new Set(converted.required ?? []);
  return Object.entries(converted.properties ?? {}).map(([field, property]) => {
    const fieldSchema: SchemaObject = typeof property === 'object' ? property : {};
    return {
      name: field,
      in: 'query',
      required: required.has(field),
      ...(fieldSchema.description === undefined ? {} : { description: fieldSchema.description }),
      schema: fieldSchema,
    } satisfies ParameterObject;
  });
}
