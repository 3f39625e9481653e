/**
 * Test support: {@linkcode MemoryFileSystem}, a deterministic in-memory
 * storage backend that models the page cache, simulated crashes (optionally
 * with torn writes) and injected I/O faults — what the store's own
 * simulation suite runs on.
 *
 * @example A crash loses what was not synced
 * ```ts
 * import { Coordinate, EventKind, Store } from "@seed/batpak";
 * import { MemoryFileSystem } from "@seed/batpak/testing";
 * const fs = new MemoryFileSystem();
 * const store = Store.open({ dataDir: "/db", fs });
 * const c = new Coordinate("a", "s");
 * store.append(c, EventKind.custom(1, 1), 1);
 * store.sync();
 * store.append(c, EventKind.custom(1, 1), 2); // never synced
 * const after = fs.crash();
 * const reopened = Store.open({ dataDir: "/db", fs: after });
 * console.log(reopened.lastSequence("a")); // 1
 * reopened.close();
 * ```
 *
 * @module
 */

export {
  type CrashOptions,
  type FaultInjector,
  type FsFault,
  type FsOp,
  type FsOpKind,
  InjectedFaultError,
  MemoryFileSystem,
  type MemoryFsStats,
  SimulatedCrashError,
} from "./src/fs/memory.ts";
