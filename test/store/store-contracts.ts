import { describeDispatchQueueContract } from './dispatch-queue.contract.ts';
import { describeEventStoreContract } from './event-store.contract.ts';
import { describeOrderingKeyContract } from './ordering-key.contract.ts';
import { describePublishQueueContract } from './publish-queue.contract.ts';
import { describeRetentionContract } from './retention.contract.ts';
import type { OpenHarness } from './store-contract-fixtures.ts';
import { describeSubscriptionStoreContract } from './subscription-store.contract.ts';

/**
 * Every store contract, one suite per port, against one adapter.
 * @example describeStoreContracts('D1 (miniflare)', async () => ({ stores, count, query, dispose }));
 */
export function describeStoreContracts(name: string, open: OpenHarness): void {
  describeEventStoreContract(name, open);
  describeSubscriptionStoreContract(name, open);
  describeDispatchQueueContract(name, open);
  describePublishQueueContract(name, open);
  describeRetentionContract(name, open);
  describeOrderingKeyContract(name, open);
}
