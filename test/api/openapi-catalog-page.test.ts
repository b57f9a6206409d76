import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CatalogView, renderCatalogPage } from '../../src/api/openapi/catalog-page.ts';
import { createOpenApiDocument } from '../../src/api/openapi/openapi-document.ts';
import { createRegistry, type MeshDefinitions } from '../../src/core/registry.ts';
import { createOrdersMesh } from '../../src/example/orders.ts';
import { defineConverter, defineDomainEvent, defineIntegrationEvent } from '../../src/index.ts';

const documentFor = (definitions: MeshDefinitions) =>
  createOpenApiDocument({
    registry: createRegistry(definitions),
    urlRules: { requireHttps: false, allowPrivateNetwork: true },
    maxBodyBytes: 256 * 1024,
    qstashCallback: false,
  });

/** The rows of the field table under an event's heading: [field, type, required]. */
function rowsOf(html: string, kind: 'domain' | 'integration', type: string): string[][] {
  const start = html.indexOf(`<article aria-labelledby="${kind}-${type}">`);
  expect(start, `${kind} event ${type}`).toBeGreaterThanOrEqual(0);
  const article = html.slice(start, html.indexOf('</article>', start));
  expect(article).toContain(`<h3 id="${kind}-${type}">${type}</h3>`);
  return [
    ...article.matchAll(
      /<tr><td><code>(.*?)<\/code><\/td><td><code>(.*?)<\/code><\/td><td[^>]*>(yes|no)<\/td>/g,
    ),
  ].map((m) => [m[1]!, m[2]!, m[3]!]);
}

describe('renderCatalogPage', () => {
  it("lists the example app's domain events and integration events with their fields and types", () => {
    const html = renderCatalogPage(documentFor(createOrdersMesh('http://127.0.0.1:9')));
    expect(html.startsWith('<!doctype html><html lang="en">')).toBe(true);
    expect(html).toContain('<h2 id="domain-events">Domain events</h2>');
    expect(html).toContain('<h2 id="integration-events">Integration events</h2>');
    expect(rowsOf(html, 'domain', 'OrderCreated')).toEqual([
      ['order', 'object', 'yes'],
      ['order.id', 'string', 'yes'],
      ['order.customerId', 'string', 'yes'],
      ['order.total', 'number', 'yes'],
      ['order.currency', 'string', 'yes'],
    ]);
    expect(rowsOf(html, 'domain', 'OrderPaid')).toEqual([
      ['orderId', 'string', 'yes'],
      ['amount', 'number', 'yes'],
      ['paidAt', 'string (date-time)', 'yes'],
    ]);
    expect(rowsOf(html, 'integration', 'order.created.v1')).toEqual([
      ['orderId', 'string', 'yes'],
      ['customerId', 'string', 'yes'],
      ['total', 'number', 'yes'],
      ['currency', 'string', 'yes'],
    ]);
    expect(rowsOf(html, 'integration', 'order.paid.v1')).toEqual([
      ['orderId', 'string', 'yes'],
      ['amount', 'number', 'yes'],
      ['paidAt', 'string', 'yes'],
    ]);
    // Constraints read as notes.
    expect(html).toContain('matches /^[A-Z]{3}$/');
  });

  it('loads nothing from elsewhere: no script, no stylesheet link, no external URL', () => {
    const html = renderCatalogPage(documentFor(createOrdersMesh('http://127.0.0.1:9')));
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)="/i);
    expect(html).toContain('<style>');
  });

  it('shows optional, nullable, enum, array and nested fields, and escapes what the schemas name', () => {
    const Shipped = defineDomainEvent(
      'OrderShipped',
      v.object({
        carrier: v.picklist(['dhl', 'ups']),
        note: v.optional(v.nullable(v.string())),
        parcels: v.array(v.object({ sku: v.string(), weight: v.number() })),
        '<b>odd</b>': v.boolean(),
      }),
    );
    const ShippedV1 = defineIntegrationEvent('order.shipped.v1', v.object({ tags: v.array(v.string()) }));
    const html = renderCatalogPage(
      documentFor({ converters: [defineConverter(Shipped, ShippedV1, () => ({ tags: [] }))] }),
    );
    expect(rowsOf(html, 'domain', 'OrderShipped')).toEqual([
      ['carrier', '&quot;dhl&quot; | &quot;ups&quot;', 'yes'],
      ['note', 'string | null', 'no'],
      ['parcels', 'object[]', 'yes'],
      ['parcels[].sku', 'string', 'yes'],
      ['parcels[].weight', 'number', 'yes'],
      ['&lt;b&gt;odd&lt;/b&gt;', 'boolean', 'yes'],
    ]);
    expect(rowsOf(html, 'integration', 'order.shipped.v1')).toEqual([['tags', 'string[]', 'yes']]);
    expect(html).not.toContain('<b>odd</b>');
  });

  it('says so when the app defines no events', () => {
    const html = renderCatalogPage(documentFor({}));
    expect(html).toContain('No domain events are defined.');
    expect(html).toContain('No integration events are defined.');
  });

  it('CatalogView renders the same content without the page around it, for the dashboard', () => {
    const view = CatalogView({ document: documentFor(createOrdersMesh('http://127.0.0.1:9')) }).toString();
    expect(typeof view).toBe('string');
    expect(view).toMatch(/^<section class="catalog"/);
    expect(view).not.toContain('<html');
    expect(view).toContain('<h3 id="integration-order.paid.v1">order.paid.v1</h3>');
  });
});
