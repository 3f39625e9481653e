/**
 * A narrow view of a store's internals for this package's tests and
 * benchmarks (frame locations, the writer's end, flushing): never used by
 * the library itself, not exported from the package.
 *
 * @module
 */

import type { SystemState } from "../core/system.ts";
import type { Index } from "../index/index.ts";
import type { SegmentReader } from "../log/reader.ts";
import type { LogWriter } from "../log/writer.ts";
import type { StoreReader } from "./reader.ts";
import { engineOf, type Store } from "./store.ts";

/** What tests may look at. */
export interface StoreInternals {
  readonly index: Index;
  readonly system: SystemState;
  /** The writer (for a read-only store, the follower's end of the log, typed alike). */
  writer(): LogWriter;
  reader(): SegmentReader;
  flush(): void;
  readRawFrame(g: number): Uint8Array;
}

/** The internals of `store`. */
export function storeInternals(store: Store | StoreReader): StoreInternals {
  const e = engineOf(store);
  return {
    get index() {
      return e.index;
    },
    get system() {
      return e.system;
    },
    writer: () => (e.writer ?? e.end) as LogWriter,
    reader: () => e.reader,
    flush: () => e.writer?.flush(),
    readRawFrame: (g) => {
      const loc = e.index.location(g);
      return e.reader.readRaw(loc.segment, loc.offset, loc.length);
    },
  };
}
