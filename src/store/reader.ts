/**
 * {@linkcode StoreReader}: what a store opened with `readOnly: true` offers
 * — every read, `refresh()` to follow another process's appends, verify,
 * snapshot and close — and no write.
 *
 * @module
 */

import type { EventId } from "../core/ids.ts";
import type { EventKind, TypedKind } from "../core/kind.ts";
import type { Region } from "../core/region.ts";
import type {
  Cursor,
  Diagnostics,
  EventSourced,
  Freshness,
  IndexEntry,
  ReadOptions,
  ReadStreamOptions,
  ReplayedEvent,
  ReplayOptions,
  StoredEvent,
  StoreSubscribeOptions,
  VerifyReport,
} from "../core/types.ts";

/**
 * A store's read side: `Store.open({ dataDir, readOnly: true })` returns
 * one (the `Store` itself satisfies it too). No lock is taken and nothing
 * on disk changes, so it works beside the process that writes the store;
 * {@linkcode StoreReader.refresh} picks up what that process appended.
 *
 * @example Follow another writer
 * ```ts
 * import { Coordinate, EventKind, Store, type StoreReader } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const writer = Store.open(dir);
 * writer.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 1);
 * writer.sync();
 * const reader: StoreReader = Store.open({ dataDir: dir, readOnly: true });
 * writer.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 2);
 * writer.sync();
 * console.log(reader.refresh(), reader.lastSequence("a")); // 1 2
 * reader.close();
 * writer.close();
 * ```
 */
export interface StoreReader {
  /** Read what another process appended since the last look; returns how many events arrived. */
  refresh(): number;
  /** The event with this id (`NotFoundError` when unknown). */
  get(id: EventId): StoredEvent;
  /** Index entries of one entity, in sequence order. */
  stream(entity: string): IndexEntry[];
  /** Events of exactly this entity, with payloads. */
  readStream(entity: string, options?: ReadStreamOptions): StoredEvent[];
  /** The entity's last sequence, 0 when it has none. */
  lastSequence(entity: string): number;
  /** A page of the region, with payloads. */
  read(region: Region, options: ReadOptions): StoredEvent[];
  /** Index entries of the region, in global order. */
  query(region: Region): IndexEntry[];
  /** A page of {@linkcode StoreReader.query}. */
  queryAfter(region: Region, afterGlobalSequence: number, limit: number): IndexEntry[];
  /** Every event of the region to `visit`, without id and hash texts (the fastest full read). */
  replay(region: Region, visit: (event: ReplayedEvent) => void, options?: ReplayOptions): number;
  /** A pull cursor over the region. */
  cursorGuaranteed(region: Region, options?: { after?: number }): Cursor;
  /** The position saved for the named cursor, or `undefined`. */
  loadCursor(name: string): number | undefined;
  /** Live events of the region (`onCaughtUp` is called when catch-up ends). */
  subscribe(region: Region, options?: StoreSubscribeOptions): AsyncIterable<StoredEvent>;
  /** The name recorded or registered for a kind, or `undefined`. */
  kindName(kind: EventKind | TypedKind<unknown>): string | undefined;
  /** Fold an entity's events (cached). */
  project<T>(entity: string, projection: EventSourced<T>, freshness?: Freshness): T | undefined;
  /** A consistent point-in-time copy into `destDir`. */
  snapshot(destDir: string): void;
  /** Re-read every frame and check it. */
  verify(options?: { onProgress?: (checked: number, total: number) => void }): VerifyReport;
  /** How the index was restored, and the log's size. */
  diagnostics(): Diagnostics;
  /** Release the store. */
  close(): void;
  /** `using reader = Store.open({ dataDir, readOnly: true })`. */
  [Symbol.dispose](): void;
}
