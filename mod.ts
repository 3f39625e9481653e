/**
 * An embedded, append-only event store for Deno, with a gate system that
 * enforces budgets and a deterministic contention harness.
 *
 * - **Store**: CRC-framed events in rotating segment files, per-entity
 *   streams with optimistic concurrency and idempotency keys, atomic
 *   batches, a per-entity hash chain, guaranteed cursors, live
 *   subscriptions, cached projections, snapshots, fast cold start, crash
 *   recovery, and leases with fencing tokens.
 * - **Gates**: `Gate`, `GateSet`, `Denial`, `Proposal`, `Receipt`, and
 *   `Pipeline`, which guards writes with gates and records each denial.
 * - **Contention harness (M37)**: deterministic ownership contention
 *   scenarios against the real store on a simulated clock and file system.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const deposited = EventKind.custom(0x1, 1);
 * store.append(new Coordinate("account:1", "bank"), deposited, { amount: 10 });
 * await store.durable();
 * console.log(store.stream("account:1").length); // 1
 * store.close();
 * ```
 *
 * @module
 */

// Store: the embedded event store
export { Store } from "./src/store/store.ts";
export type { StoreReader } from "./src/store/reader.ts";
export {
  BATCH_BYTES_MAX,
  BATCH_ITEMS_MAX,
  FRAME_BODY_BYTES_MAX,
  GLOBAL_SEQUENCE_MAX,
  SEGMENT_MAX_BYTES_MAX,
} from "./src/core/limits.ts";
export { Coordinate, COORDINATE_BYTES_MAX } from "./src/core/coordinate.ts";
export {
  EventKind,
  KIND_NAME_BYTES_MAX,
  type KindedEvent,
  type KindOptions,
  SCHEMA_VERSION_MAX,
  TypedKind,
  type Upcaster,
} from "./src/core/kind.ts";
export {
  defineProjection,
  type NamedProjection,
  type ProjectionDefinition,
} from "./src/read/projection.ts";
export { Region } from "./src/core/region.ts";
export type { EventId } from "./src/core/ids.ts";
export type {
  AppendOptions,
  AppendReceipt,
  AsyncOwnership,
  Awaitable,
  BatchAppendItem,
  CheckedBatchItems,
  Cursor,
  Diagnostics,
  EventSourced,
  EventStore,
  Fence,
  Freshness,
  IndexEntry,
  LifecycleSummary,
  OpenReport,
  ReadOptions,
  ReadStreamOptions,
  ReplayedEvent,
  ReplayOptions,
  StoredEvent,
  StoreSubscribeOptions,
  SubscribeOptions,
  TypedBatchAppendItem,
  VerifyProblem,
  VerifyReport,
} from "./src/core/types.ts";
export type { Ownership } from "./src/ownership/ownership.ts";
export type { StoreConfig, SyncConfig } from "./src/engine/settings.ts";
export type { RetentionPolicy } from "./src/core/lifecycle.ts";
export type { CompactOptions, CompactReport } from "./src/ops/compact.ts";

// Errors: every one a StoreError with a stable code
export {
  ConcurrencyError,
  CorruptSegmentError,
  IdempotencyConflictError,
  InternalError,
  InvalidArgumentError,
  InvalidCoordinateError,
  InvalidPayloadError,
  IoError,
  type IoErrorKind,
  KindConflictError,
  NotFoundError,
  OwnershipError,
  type OwnershipRejection,
  PayloadTooLargeError,
  ReadOnlyError,
  ReservedKindError,
  StorageFullError,
  StoreClosedError,
  StoreError,
  type StoreErrorCode,
  StoreLockedError,
  StreamDeletedError,
  UpcastError,
  WriterPoisonedError,
} from "./src/core/errors.ts";

// Storage: the port, and the real disk (in-memory simulation: "@seed/batpak/testing")
export type {
  DirLock,
  FileHandle,
  FileInfo,
  FileSystem,
  OpenOptions,
  StorageError,
} from "./src/fs/types.ts";
export { DenoFileSystem } from "./src/fs/deno.ts";

// Gates
export * from "./src/gate/mod.ts";
export { Pipeline, type PipelineResult } from "./src/pipeline/mod.ts";

// Contention harness (M37)
export * from "./src/harness/mod.ts";
