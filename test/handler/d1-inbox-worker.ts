// A Worker around one D1 inbox per `inbox` name, kept across requests as a real Worker keeps it
// (test/handler/d1-inbox.test.ts bundles this and runs it in workerd). Imports the SDK's public
// barrel, so the bundle is what a consuming service deploys.
import { createD1Inbox, type D1InboxDatabase, type Inbox } from '../../src/handler/index.ts';

const inboxes = new Map<string, Inbox>();

export default {
  async fetch(request: Request, env: { DB: D1InboxDatabase }): Promise<Response> {
    const url = new URL(request.url);
    const name = url.searchParams.get('inbox') ?? 'default';
    let inbox = inboxes.get(name);
    if (inbox === undefined) {
      inbox = createD1Inbox(env.DB);
      inboxes.set(name, inbox);
    }
    const key = { handler: 'billing', eventId: url.searchParams.get('event') ?? 'ie_1' };
    const nowMs = Number(url.searchParams.get('now'));
    const claim = inbox.claim({ ...key, nowMs, leaseMs: 60_000 });
    if (url.pathname === '/claim-and-leave') {
      // Answers before the claim settles, as a request the client cancelled would stop waiting.
      claim.catch(() => {});
      return new Response('left');
    }
    return new Response(await claim);
  },
};
