import type { JsonSchema } from '@valibot/to-json-schema';

// The part of OpenAPI 3.1 the mesh's document uses, as plain JSON types (no dependency: the
// `openapi-types` package is for tests only, and these types reach the package's .d.ts).

/** A Schema Object: JSON Schema 2020-12, plus OpenAPI's `discriminator`. */
export type SchemaObject = JsonSchema & {
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
};

export interface HeaderObject {
  description?: string;
  required?: boolean;
  schema: SchemaObject;
}

export interface ParameterObject extends HeaderObject {
  name: string;
  in: 'query' | 'header' | 'path';
}

export interface MediaTypeObject {
  schema: SchemaObject;
}

export interface RequestBodyObject {
  description?: string;
  required: boolean;
  content: Record<string, MediaTypeObject>;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, MediaTypeObject>;
}

export type SecurityRequirement = Record<string, string[]>;

export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  security?: SecurityRequirement[];
  parameters?: ParameterObject[];
  requestBody?: RequestBodyObject;
  responses: Record<string, ResponseObject>;
}

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

export type PathItemObject = Partial<Record<HttpMethod, OperationObject>>;

export interface SecuritySchemeObject {
  type: 'http' | 'apiKey';
  description: string;
  scheme?: 'bearer';
  in?: 'header';
  name?: string;
}

/** The mesh's OpenAPI 3.1 document: its REST API, and its integration events under `webhooks`. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, PathItemObject>;
  webhooks: Record<string, PathItemObject>;
  components: {
    schemas: Record<string, SchemaObject>;
    securitySchemes: Record<string, SecuritySchemeObject>;
  };
}

/** `{ $ref }` to `components.schemas[name]`. */
export function schemaRef(name: string): SchemaObject {
  return { $ref: `#/components/schemas/${name}` };
}
