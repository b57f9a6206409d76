import { jsxDEV } from 'hono/jsx/jsx-dev-runtime';
import { type CatalogEvent, toCatalog } from './catalog-fields.ts';
import type { OpenApiDocument } from './openapi-types.ts';

// The event catalog as HTML, rendered on the server with hono/jsx (called as functions: the
// sources stay plain `.ts`, which Node, Deno and the Worker build all run as they are). No
// script, no external asset: the page works offline and under a strict CSP.

/**
 * `h(tag, props, ...children)` on hono's JSX runtime, the entry the dashboard's `.tsx` compiles to:
 * importing `jsx` from `hono/jsx` itself would also bundle its client-side DOM renderer, hooks and
 * streaming (~15 KiB minified) into the Worker, which renders only on the server.
 */
const h = (tag: string, props: Record<string, unknown> | null, ...children: unknown[]) =>
  jsxDEV(tag, { ...props, children: children.length === 1 ? children[0] : children }, undefined);

/** Inline styles for the standalone page; the dashboard may bring its own. */
export const CATALOG_CSS = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2230;background:#f6f7f9}
main{max-width:64rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
h3{font:600 1rem ui-monospace,monospace;margin:1.5rem 0 .25rem}
p.lead{color:#545b6b;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e7}
caption{text-align:left;color:#545b6b;padding:.25rem 0}
th,td{text-align:left;padding:.35rem .6rem;border-top:1px solid #eef0f3;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td code{font:13px ui-monospace,monospace}
.required{color:#a3370f;font-weight:600}.none{color:#7a8190}
@media (max-width:40rem){main{padding:.75rem}td,th{padding:.3rem}}
`;

/**
 * The catalog's content — domain events with the `data` each takes, integration events with the
 * body each subscriber receives — to place inside a page (the dashboard's layout).
 * @example c.html(Layout({ children: CatalogView({ document }) }))
 */
export function CatalogView(props: { readonly document: OpenApiDocument }) {
  const catalog = toCatalog(props.document);
  return h(
    'section',
    { class: 'catalog', 'aria-labelledby': 'catalog-title' },
    h('h1', { id: 'catalog-title' }, 'Event catalog'),
    h(
      'p',
      { class: 'lead' },
      'Producers POST domain events to /v1/events; the mesh turns them into integration events and ' +
        'delivers each, signed, to its subscriptions. The full contract is GET /openapi.json.',
    ),
    h('h2', { id: 'domain-events' }, 'Domain events'),
    catalog.domainEvents.length === 0
      ? h('p', { class: 'none' }, 'No domain events are defined.')
      : catalog.domainEvents.map((event) => EventFields({ event, kind: 'domain', what: 'data' })),
    h('h2', { id: 'integration-events' }, 'Integration events'),
    catalog.integrationEvents.length === 0
      ? h('p', { class: 'none' }, 'No integration events are defined.')
      : catalog.integrationEvents.map((event) => EventFields({ event, kind: 'integration', what: 'body' })),
  );
}

/**
 * The catalog as a whole HTML page, styles inline.
 * @example return c.html(renderCatalogPage(createOpenApiDocument(options)));
 */
export function renderCatalogPage(document: OpenApiDocument): string {
  const page = h(
    'html',
    { lang: 'en' },
    h(
      'head',
      null,
      h('meta', { charset: 'utf-8' }),
      h('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
      h('title', null, 'Event catalog · hookmesh'),
      h('style', { dangerouslySetInnerHTML: { __html: CATALOG_CSS } }),
    ),
    h('body', null, h('main', null, CatalogView({ document }))),
  );
  const html = page.toString();
  // Every part above renders synchronously; a promise here would be a bug in this file.
  if (typeof html !== 'string') throw new Error('the catalog page rendered asynchronously');
  return `<!doctype html>${html}`;
}

function EventFields(props: {
  readonly event: CatalogEvent;
  readonly kind: 'domain' | 'integration';
  readonly what: 'data' | 'body';
}) {
  const { event, kind, what } = props;
  const headingId = `${kind}-${event.type}`;
  return h(
    'article',
    { 'aria-labelledby': headingId },
    h('h3', { id: headingId }, event.type),
    event.fields.length === 0
      ? h('p', { class: 'none' }, `Its ${what} has no declared fields.`)
      : h(
          'table',
          null,
          h('caption', null, `Fields of ${event.type} (${what})`),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', { scope: 'col' }, 'Field'),
              h('th', { scope: 'col' }, 'Type'),
              h('th', { scope: 'col' }, 'Required'),
              h('th', { scope: 'col' }, 'Notes'),
            ),
          ),
          h(
            'tbody',
            null,
            event.fields.map((field) =>
              h(
                'tr',
                null,
                h('td', null, h('code', null, field.path)),
                h('td', null, h('code', null, field.type)),
                h('td', field.required ? { class: 'required' } : null, field.required ? 'yes' : 'no'),
                h('td', null, field.notes.join('; ')),
              ),
            ),
          ),
        ),
  );
}
