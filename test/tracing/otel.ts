import { AsyncLocalStorage } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { type Context, type ContextManager, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';

/**
 * What `@opentelemetry/context-async-hooks` does, in a few lines: the active context follows async
 * work, so a span made active stays active across `await`s (the client reads it to send it on).
 */
class AsyncContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as (...args: unknown[]) => unknown;
    return ((...args: unknown[]) => this.with(ctx, () => fn(...args))) as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}

export interface InstalledTracing {
  /** Every span ended so far, in the order they ended. */
  spans(): Promise<ReadableSpan[]>;
  reset(): void;
  uninstall(): Promise<void>;
}

/**
 * An OpenTelemetry SDK as an app installs one: a tracer provider registered globally with an
 * in-memory exporter, and an async context manager.
 */
export function installTracing(): InstalledTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  expect(trace.setGlobalTracerProvider(provider)).toBe(true);
  expect(context.setGlobalContextManager(new AsyncContextManager())).toBe(true);
  return {
    async spans() {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
    reset: () => exporter.reset(),
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/** The one span of that name; fails when there is none or several. */
export function only(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0]!;
}

/** The parent's span id, or undefined for a root span. */
export const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

export interface HttpService {
  readonly url: string;
  /** What answers from now on (the URL is known before the app is built: it signs against it). */
  serve(fetch: (request: Request) => Response | Promise<Response>): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 (`@hono/node-server`), answering 503 until given an app. */
export async function startHttpService(): Promise<HttpService> {
  let app: ((request: Request) => Response | Promise<Response>) | undefined;
  const server: ServerType = await new Promise((resolve) => {
    const s = serve(
      {
        hostname: '127.0.0.1',
        port: 0,
        fetch: (request) => (app ? app(request) : new Response(null, { status: 503 })),
      },
      () => resolve(s),
    );
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve(fetch) {
      app = fetch;
    },
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
