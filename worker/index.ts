import journal from '../migrations/meta/_journal.json' with { type: 'json' };
import { createWorkerEntry } from '../src/runtime/worker.ts';

// wrangler's `main`: the Cloudflare entry, composition only (src/runtime/worker.ts). The migration
// names come from drizzle-kit's journal, bundled, so /healthz can tell when wrangler has applied
// them all — the Worker itself never migrates.
const worker = createWorkerEntry({
  migrations: journal.entries.map((entry) => `${entry.tag}.sql`),
});

export default { fetch: worker.fetch, scheduled: worker.scheduled };
