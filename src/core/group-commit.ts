/**
 * Group commit: requests that arrive together share one transaction, and each is answered only
 * after that transaction is durable. No timer adds latency: a lone request is written on the next
 * turn of the event loop; under load, everything that queued while a commit ran goes in the next
 * one. Fewer syncs, not weaker ones.
 *
 * When a shared commit fails on a constraint (a duplicate id), each request is retried alone so
 * one bad request cannot fail its neighbours.
 */
export interface GroupCommit<TItem> {
  /** Resolves once `items` are committed; rejects with the error of their own commit. */
  submit(items: readonly TItem[]): Promise<void>;
}

interface Pending<TItem> {
  readonly items: readonly TItem[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The next turn of the event loop. `setImmediate` where the runtime has it (Node, Bun): Node clamps
 * `setTimeout(fn, 0)` to 1 ms, which a lone write would wait for. Elsewhere the web standard's
 * `setTimeout`. Looked up, not declared: core is typed without Node's globals.
 */
const setImmediateIfAny = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
const defer: (fn: () => void) => void =
  typeof setImmediateIfAny === 'function' ? (fn) => setImmediateIfAny(fn) : (fn) => setTimeout(fn, 0);

/** Nested `setTimeout`s are clamped (4 ms on the web): gathering over turns needs `setImmediate`. */
const CAN_GATHER = typeof setImmediateIfAny === 'function';

export function createGroupCommit<TItem>(options: {
  /** Writes the items atomically. */
  write(items: readonly TItem[]): Promise<void>;
  /** Whether a failed shared write should be retried request by request. */
  isIsolatable(error: unknown): boolean;
  /** Most items in one transaction. */
  maxItems: number;
  /**
   * Turns of the event loop a commit waits at most while each brings more items (default 0; only
   * where `setImmediate` exists). Under load the answers of one commit come back as new requests
   * while the loop is still reading those that arrived during it: a commit taken at the first turn
   * holds only the latter, and the clients just answered wait for the next one. Gathering them
   * costs no idle time — each turn reads what has already arrived — and a lone request, the only
   * one of its turn, waits for no further turn.
   */
  gatherTurns?: number;
}): GroupCommit<TItem> {
  const gatherTurns = CAN_GATHER ? (options.gatherTurns ?? 0) : 0;
  const queue: Pending<TItem>[] = [];
  let running = false;
  let scheduled = false;
  /** Items submitted so far, and of them still queued: what a turn of the loop brought. */
  let submitted = 0;
  let queued = 0;

  const schedule = () => {
    if (scheduled || running || queue.length === 0) return;
    scheduled = true;
    let seen = submitted;
    let turns = 0;
    const next = () => {
      if (submitted !== seen && turns < gatherTurns && queued < options.maxItems) {
        seen = submitted;
        turns++;
        defer(next);
        return;
      }
      scheduled = false;
      void drain();
    };
    defer(next);
  };

  const drain = async () => {
    running = true;
    try {
      while (queue.length > 0) {
        const group = take();
        await commit(group);
      }
    } finally {
      running = false;
      schedule();
    }
  };

  const take = (): Pending<TItem>[] => {
    const group: Pending<TItem>[] = [];
    let count = 0;
    while (queue.length > 0) {
      const next = queue[0]!;
      if (group.length > 0 && count + next.items.length > options.maxItems) break;
      group.push(next);
      count += next.items.length;
      queued -= next.items.length;
      queue.shift();
    }
    return group;
  };

  const commit = async (group: Pending<TItem>[]) => {
    try {
      await options.write(group.flatMap((p) => p.items));
      for (const p of group) p.resolve();
    } catch (error) {
      if (group.length === 1 || !options.isIsolatable(error)) {
        for (const p of group) p.reject(error);
        return;
      }
      for (const p of group) {
        try {
          await options.write(p.items);
          p.resolve();
        } catch (own) {
          p.reject(own);
        }
      }
    }
  };

  return {
    submit(items) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ items, resolve, reject });
        submitted += items.length;
        queued += items.length;
        schedule();
      });
    },
  };
}
