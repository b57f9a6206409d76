import { Hono } from 'hono';
import { type AuthEnv, type Authenticator, requireAuth } from '../auth.ts';
import { createOpenApiDocument, type OpenApiDocumentOptions } from './openapi-document.ts';

export interface OpenApiRoutesOptions extends OpenApiDocumentOptions {
  readonly auth: Authenticator;
}

/**
 * `GET /openapi.json` (producer or admin token). The document is built at the first request and
 * kept: the app's definitions do not change while it runs.
 * @example app.route('/openapi.json', createOpenApiRoutes({ auth, registry, urlRules, maxBodyBytes, qstashCallback }));
 */
export function createOpenApiRoutes(options: OpenApiRoutesOptions) {
  const { auth, ...documentOptions } = options;
  let text: string | undefined;
  return new Hono<AuthEnv>().get('/', requireAuth(auth, ['producer', 'admin']), (c) => {
    text ??= JSON.stringify(createOpenApiDocument(documentOptions));
    return c.body(text, 200, { 'content-type': 'application/json; charset=utf-8' });
  });
}
