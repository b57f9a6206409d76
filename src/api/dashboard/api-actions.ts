import type { OpenApiDocument } from '../openapi/openapi-types.ts';

// What the dashboard changes, it changes through the REST API, in process: the same validation,
// URL trust rules and replay semantics as `curl` gets, with no second copy to drift. The forms
// only translate fields to JSON, and problems back to sentences.

/** Answers one request with the mesh's API (`app.request`), without leaving the process. */
export type ApiCall = (path: string, init: RequestInit) => Promise<Response>;

export type ActionResult<TBody> =
  | { readonly ok: true; readonly status: number; readonly body: TBody }
  | {
      readonly ok: false;
      readonly status: number;
      /** The problem's detail (or title), for the operator. */
      readonly detail: string;
      /** Each refused field: `url: …`. */
      readonly issues: readonly string[];
    };

export interface SubscriptionForm {
  readonly type: string;
  readonly url: string;
  readonly retries: string;
  readonly retryDelay: string;
}

export interface ApiActions {
  replay(deliveryId: string): Promise<ActionResult<{ delivery: { status: string } | null }>>;
  replayAll(filter: {
    readonly type?: string;
    readonly subscription?: string;
  }): Promise<ActionResult<{ replayed: number }>>;
  setPaused(subscriptionId: string, paused: boolean): Promise<ActionResult<{ id: string }>>;
  createSubscription(form: SubscriptionForm): Promise<ActionResult<{ id: string }>>;
  /** `GET /openapi.json`: the event catalog, as the API builds it (once) for everyone. */
  readCatalog(): Promise<ActionResult<OpenApiDocument>>;
}

/**
 * The API's admin routes, called as the admin: the dashboard's session stands for that token.
 * @example const actions = createApiActions((path, init) => app.request(path, init), adminToken);
 */
export function createApiActions(api: ApiCall, adminToken: string): ApiActions {
  const call = async <TBody>(method: string, path: string, body?: unknown): Promise<ActionResult<TBody>> => {
    const response = await api(path, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok) return { ok: true, status: response.status, body: parsed as TBody };
    return { ok: false, status: response.status, ...toProblemText(parsed, response.status) };
  };

  return {
    replay: (id) => call('POST', `/v1/deliveries/${encodeURIComponent(id)}/retry`),
    replayAll: (filter) => call('POST', '/v1/deliveries/retry', { status: 'dead', ...filter }),
    setPaused: (id, paused) => call('PATCH', `/v1/subscriptions/${encodeURIComponent(id)}`, { paused }),
    createSubscription: (form) =>
      call('POST', '/v1/subscriptions', {
        type: form.type.trim(),
        url: form.url.trim(),
        ...(form.retries.trim() === '' ? {} : { retries: toNumberOrText(form.retries.trim()) }),
        ...(form.retryDelay.trim() === '' ? {} : { retryDelay: form.retryDelay.trim() }),
      }),
    readCatalog: () => call('GET', '/openapi.json'),
  };
}

/** A form's digits as a number; anything else as typed, for the API to refuse in its own words. */
function toNumberOrText(text: string): number | string {
  return /^-?[0-9]{1,6}$/.test(text) ? Number(text) : text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function toProblemText(body: unknown, status: number): { detail: string; issues: string[] } {
  const problem = (typeof body === 'object' && body !== null ? body : {}) as {
    title?: unknown;
    detail?: unknown;
    issues?: unknown;
  };
  const issues = Array.isArray(problem.issues)
    ? problem.issues.flatMap((issue: { path?: unknown; message?: unknown }) =>
        typeof issue?.message === 'string'
          ? [
              typeof issue.path === 'string' && issue.path !== ''
                ? `${issue.path.slice(1).replaceAll('/', '.')}: ${issue.message}`
                : issue.message,
            ]
          : [],
      )
    : [];
  const detail =
    typeof problem.detail === 'string'
      ? problem.detail
      : typeof problem.title === 'string'
        ? problem.title
        : `the API answered ${status}`;
  return { detail, issues };
}
