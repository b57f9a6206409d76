import { createMemoryInbox } from '../../src/handler/memory-inbox.ts';
import { describeInboxContract } from './inbox.contract.ts';

describeInboxContract('memory', async () => ({ inbox: createMemoryInbox(), dispose: async () => {} }));
