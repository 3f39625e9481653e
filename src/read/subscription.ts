/**
 * Live subscriptions: catch up from the log, then follow appends, reading
 * back from the log in pages so a slow consumer costs bounded memory.
 *
 * @module
 */

import { queryIndex } from "../index/query.ts";
import type { Region } from "../store/region.ts";
import type { StoreInternals } from "../store/store.ts";
import type { StoredEvent } from "../store/types.ts";

/** Events read from the log per page. */
export const SUBSCRIPTION_PAGE_EVENTS = 256;

/**
 * The async iterable behind `Store.subscribe`. The empty-page check and the
 * listener registration happen in one synchronous step, so no append can
 * slip between them: no gap, no duplicate.
 */
export function subscribe(
  internals: StoreInternals,
  region: Region,
  after: number,
  signal: AbortSignal | undefined,
): AsyncIterable<StoredEvent> {
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<StoredEvent> {
      let position = after;
      const done = () => signal?.aborted === true || internals.isClosed();
      while (!done()) {
        const page = queryIndex(internals.index, region, position, SUBSCRIPTION_PAGE_EVENTS);
        if (page.length > 0) {
          for (const g of page) {
            if (done()) return;
            const event = internals.readEvent(g);
            position = g;
            yield event;
          }
          continue;
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            off();
            signal?.removeEventListener("abort", wake);
            resolve();
          };
          const off = internals.onAppend(wake);
          signal?.addEventListener("abort", wake, { once: true });
        });
      }
    },
  };
}
