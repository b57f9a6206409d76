import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Proc } from '../support/processes.ts';

// What the package tests share: fixtures copied into the installed project, a process's exit, and
// reading the mesh's API as its admin.

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/**
 * Copies `test/package/fixtures/<name>/` into a fresh `<project>/<name>/` (each test file its own
 * folder, so test files sharing the installed project never see each other's files). Bare
 * specifiers in the copied files resolve from `<project>/node_modules`, as in a user's project.
 * @example const dir = copyFixtures(project.dir, 'node-mesh');
 */
export function copyFixtures(projectDir: string, name: string): string {
  const dir = join(projectDir, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  return dir;
}

/** Resolves with the exit code and signal once the process has ended (at once if it has). */
export function exited(p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** The JSON lines of a file a fixture appends to; none when it does not exist yet. */
export function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** `GET /v1/events/:id`'s answer, the parts these tests read. */
export interface EventView {
  id: string;
  type: string;
  source: string;
  integrationEvents: {
    id: string;
    type: string;
    time: string;
    data: unknown;
    deliveries: {
      id: string;
      subscriptionId: string;
      url: string;
      status: string;
      attempts: { number: number; status: number | null }[];
    }[];
  }[];
}

/** Reads an event through the API with `token` (the admin's); undefined while it is not there. */
export async function readEvent(
  baseUrl: string,
  token: string,
  id: string,
  fetcher: (input: string, init: RequestInit) => Promise<Response> = fetch,
): Promise<EventView | undefined> {
  const res = await fetcher(`${baseUrl}/v1/events/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status === 404) {
    await res.arrayBuffer();
    return undefined;
  }
  if (res.status !== 200) throw new Error(`GET /v1/events/${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as EventView;
}

/** True when every delivery of every integration event of the event is `delivered`. */
export function allDelivered(event: EventView | undefined, deliveriesPerEvent: number): boolean {
  return (
    event !== undefined &&
    event.integrationEvents.length > 0 &&
    event.integrationEvents.every(
      (ie) =>
        ie.deliveries.length === deliveriesPerEvent && ie.deliveries.every((d) => d.status === 'delivered'),
    )
  );
}
