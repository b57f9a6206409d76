/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { CatalogView } from '../../openapi/catalog-page.ts';
import type { OpenApiDocument } from '../../openapi/openapi-types.ts';
import { Layout } from '../layout.tsx';

/** The event catalog (`GET /openapi.json`, rendered) inside the dashboard, behind its sign-in. */
export function CatalogPage(props: { readonly document: OpenApiDocument; readonly csrf: string }) {
  return (
    <Layout title="Event catalog" section="catalog" csrf={props.csrf}>
      <CatalogView document={props.document} />
    </Layout>
  );
}
