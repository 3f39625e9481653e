/**
 * The store as the harness sees it: only names that `mod.ts` exports, taken
 * from their own modules so the harness does not import the package root
 * (which re-exports the harness: a cycle). Nothing here may reach internals.
 *
 * @module
 */

export { Store } from "../store/store.ts";
export { Coordinate } from "../core/coordinate.ts";
export { EventKind } from "../core/kind.ts";
export { Region } from "../core/region.ts";
export { InvalidArgumentError, OwnershipError, type OwnershipRejection } from "../core/errors.ts";
export { MemoryFileSystem } from "../fs/memory.ts";
export type { AsyncOwnership, Awaitable, EventStore, Fence, StoredEvent } from "../core/types.ts";
