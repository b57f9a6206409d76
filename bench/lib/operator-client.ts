import { Agent, request } from 'undici';
import { ADMIN_TOKEN } from './operator-fixture.ts';

// bench:operator's HTTP side: one keep-alive connection, one request at a time (an operator's
// browser, not a load test), each timed from just before it leaves to its last body byte.

const agent = new Agent({
  keepAliveTimeout: 60_000,
  connections: 1,
  bodyTimeout: 120_000,
  headersTimeout: 120_000,
});

/** How a route is called: the dashboard's session cookie, the admin bearer token, or nothing. */
export type Credential = 'session' | 'bearer' | 'none';

export interface Timed {
  ms: number;
  status: number;
  bytes: number;
  body: string;
}

export async function closeClient(): Promise<void> {
  await agent.close();
}

/**
 * Signs in as the dashboard's form does (`token`, then a 303 with the session cookie); returns the
 * `Cookie` header value to send back.
 */
export async function signIn(baseUrl: string): Promise<string> {
  const response = await request(`${baseUrl}/dashboard/sign-in`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: ADMIN_TOKEN, next: '/dashboard' }).toString(),
  });
  const text = await response.body.text();
  const raw = response.headers['set-cookie'];
  const cookies = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((c) => c.split(';')[0]!);
  const session = cookies.find((c) => c.startsWith('hookmesh_session='));
  if (response.statusCode !== 303 || session === undefined) {
    throw new Error(
      `sign-in answered ${response.statusCode} without a session cookie: ${text.slice(0, 300)}`,
    );
  }
  return session;
}

export async function timedGet(url: string, credential: Credential, cookie: string): Promise<Timed> {
  const headers: Record<string, string> = {};
  if (credential === 'session') headers.cookie = cookie;
  if (credential === 'bearer') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
  const started = performance.now();
  const response = await request(url, { method: 'GET', dispatcher: agent, headers });
  const body = await response.body.text();
  const ms = performance.now() - started;
  return { ms, status: response.statusCode, bytes: Buffer.byteLength(body), body };
}
