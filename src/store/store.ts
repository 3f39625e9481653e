/**
 * The {@linkcode Store} facade. An append reads top to bottom:
 * validate → encode frame → log writer → index → notify readers.
 *
 * @module
 */

import { join } from "node:path";
import type { DirLock, FileHandle, FileSystem } from "../fs/types.ts";
import { type Dimension, Index } from "../index/index.ts";
import {
  CHECKPOINT_FILE,
  type Coverage,
  IMAGE_FILE,
  loadSidecar,
  saveSidecar,
  type SidecarKind,
} from "../index/sidecar.ts";
import {
  decodePayload,
  decodeText,
  encodePayload,
  EVENT_HEADER_BYTES,
  eventBodyLength,
  type EventHeader,
  type EventParts,
  ID_BYTES,
  keyString,
  readEventHeader,
  writeEventBody,
} from "../log/event_codec.ts";
import {
  encodeMarker,
  FLAG_IN_BATCH,
  FRAME_BODY_BYTES_MAX,
  FRAME_HEADER_BYTES,
  frameCrcAt,
  FrameKind,
  sealFrame,
} from "../log/frame.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { SegmentReader } from "../log/reader.ts";
import { scanLog, type ScanSink } from "../log/recovery.ts";
import { parseSegmentName, SEGMENT_HEADER_BYTES, segmentName } from "../log/segment.ts";
import { LogWriter } from "../log/writer.ts";
import { Coordinate } from "../core/coordinate.ts";
import {
  ConcurrencyError,
  CorruptSegmentError,
  InvalidArgumentError,
  InvalidCoordinateError,
  NotFoundError,
  PayloadTooLargeError,
  StoreClosedError,
  StoreError,
  StoreLockedError,
} from "../core/errors.ts";
import { type EventId, IdGenerator, type IdWords, requireId } from "../core/ids.ts";
import { EventKind, isEventKind } from "../core/kind.ts";
import { Region } from "../core/region.ts";
import { DENIAL_ENTITY, SYSTEM_SCOPE, SystemKind, SystemState } from "../core/system.ts";
import { queryIndex } from "../index/query.ts";
import { BytesIndex, hashBytes } from "../index/bytes_index.ts";
import type {
  AppendOptions,
  AppendReceipt,
  BatchAppendItem,
  Cursor,
  Diagnostics,
  EventSourced,
  Freshness,
  IndexEntry,
  OpenReport,
  ReadOptions,
  ReadStreamOptions,
  StoreConfig,
  StoredEvent,
  VerifyReport,
} from "../core/types.ts";
import { checkFence, type FenceCheck } from "../ownership/fence.ts";
import { type Ownership, OwnershipImpl } from "../ownership/ownership.ts";
import { checkPosition, GuaranteedCursor, loadCursor, saveCursor } from "../read/cursor.ts";
import { readEvents, readOne } from "../read/_events.ts";
import { subscribe } from "../read/subscription.ts";
import { ProjectionCache } from "../read/projection.ts";
import { verifyStore } from "../read/verify.ts";
import { snapshotStore } from "../read/snapshot.ts";
import { Denial } from "../gate/denial.ts";
import {
  BATCH_ITEMS_MAX,
  CHECKPOINT_EVERY_EVENTS_MIN,
  GLOBAL_SEQUENCE_MAX,
  IDEMPOTENCY_KEY_BYTES_MAX,
  LOCK_FILE,
  resolveConfig,
  type Settings,
} from "./config.ts";
import {
  ByteArena,
  checkUserKind,
  describeValue,
  HASH_PLACEHOLDER,
  idBytes,
  keepHash,
  readIdWords,
  Receipt,
  validateFence,
} from "./_support.ts";
export {
  BATCH_ITEMS_MAX,
  CHECKPOINT_EVERY_EVENTS_MIN,
  FD_BUDGET_DEFAULT,
  GLOBAL_SEQUENCE_MAX,
  IDEMPOTENCY_KEY_BYTES_MAX,
  LOCK_FILE,
  SEGMENT_MAX_BYTES_DEFAULT,
  SEGMENT_MAX_BYTES_MIN,
  SYNC_EVERY_N_EVENTS_DEFAULT,
} from "./config.ts";

const BIGINT_KEY_MAX = (1n << 128n) - 1n;
const textEncoder = new TextEncoder();

/** An append that passed validation, ready to encode. */
interface Prepared {
  entity: string;
  scope: string;
  entityId: number; // -1 when new
  kind: number;
  payload: Uint8Array;
  keyBytes: Uint8Array | null;
  keyIsString: boolean;
  keyStr: string | null;
  correlation: Uint8Array | null;
  causation: Uint8Array | null;
  fence: FenceCheck | undefined;
}

/** One planned batch item. */
interface BatchPlan {
  item: number;
  p: Prepared;
  sequence: number;
  /** Index of the earlier item that caused this one, or -1. */
  priorItem: number;
  causation: Uint8Array | null;
}

/** Internal hooks for the read side, ownership and harness modules. Not part of the public API. */
export interface StoreInternals {
  readonly index: Index;
  readonly system: SystemState;
  readonly settings: Readonly<Settings>;
  readonly fs: FileSystem;
  readonly dataDir: string;
  readEvent(globalSequence: number): StoredEvent;
  readRawFrame(globalSequence: number): Uint8Array;
  onAppend(listener: () => void): () => void;
  appendSystem(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    fence?: FenceCheck,
  ): AppendReceipt;
  segments(): readonly number[];
  isClosed(): boolean;
  flush(): void;
  writer(): LogWriter;
  reader(): SegmentReader;
}

const internalsOf = new WeakMap<Store, StoreInternals>();

/** The internal hooks of a store (for this package's own modules and tests). */
export function storeInternals(store: Store): StoreInternals {
  const s = internalsOf.get(store);
  if (!s) throw new InvalidArgumentError("not a Store");
  return s;
}

/**
 * An embedded, append-only event store over segment files.
 *
 * @example Append, read back, reopen
 * ```ts
 * import { Coordinate, EventKind, Store } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const store = Store.open(dir);
 * const placed = EventKind.custom(0x1, 1);
 * const r = store.append(new Coordinate("order:1", "shop"), placed, { total: 42 });
 * console.log(r.sequence, r.globalSequence); // 1 1
 * console.log(store.get(r.eventId).payload); // { total: 42 }
 * store.close();
 * const again = Store.open(dir);
 * console.log(again.stream("order:1").length); // 1
 * again.close();
 * ```
 */
export class Store {
  readonly #s: Settings;
  readonly #fs: FileSystem;
  readonly #lock: DirLock | undefined;
  #index: Index;
  #segments: number[];
  #writer!: LogWriter;
  readonly #reader: SegmentReader;
  readonly #ids: IdGenerator;
  #system: SystemState;
  #openReport!: OpenReport;
  #closed = false;
  #sinceSync = 0;
  #checkpointedCount = 0;
  #lastFrame = { segment: 0, offset: 0, crc: 0 };
  readonly #listeners = new Set<() => void>();
  readonly #entityBytes: Uint8Array[] = [];
  readonly #scopeBytes: Uint8Array[] = [];
  readonly #projections = new ProjectionCache();
  readonly #internals: StoreInternals;

  private constructor(s: Settings, lock: DirLock | undefined) {
    this.#s = s;
    this.#fs = s.fs;
    this.#lock = lock;
    this.#index = new Index();
    this.#segments = [];
    this.#reader = new SegmentReader(s.fs, s.dataDir, s.fdBudget);
    this.#ids = new IdGenerator(s.clock);
    this.#system = new SystemState();
    const index = (): Index => this.#index;
    const system = (): SystemState => this.#system;
    this.#internals = {
      get index() {
        return index();
      },
      get system() {
        return system();
      },
      settings: s,
      fs: s.fs,
      dataDir: s.dataDir,
      readEvent: (g) => this.#readEvent(g),
      readRawFrame: (g) => {
        const loc = this.#index.location(g);
        return this.#reader.readFrame(loc.segment, loc.offset, loc.length);
      },
      onAppend: (listener) => {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
      appendSystem: (coord, kind, payload, fence) =>
        this.#appendOne(coord, kind, payload, undefined, fence),
      segments: () => this.#segments,
      isClosed: () => this.#closed,
      flush: () => this.#writer.flush(),
      writer: () => this.#writer,
      reader: () => this.#reader,
    };
    internalsOf.set(this, this.#internals);
  }

  /**
   * Open (or create) the store in `config.dataDir`, restoring the index from
   * the index image, a checkpoint, or a full scan (see
   * {@linkcode Store.diagnostics}). Throws {@linkcode StoreLockedError} when
   * another `Store` holds the directory and {@linkcode CorruptSegmentError}
   * when a sealed segment is damaged.
   */
  static open(config: StoreConfig | string): Store {
    const s = resolveConfig(config);
    const started = performance.now();
    const existing = s.fs.stat(s.dataDir);
    if (existing !== undefined && !existing.isDirectory) {
      throw new InvalidArgumentError(`config.dataDir "${s.dataDir}" exists and is not a directory`);
    }
    let lock: DirLock | undefined;
    if (s.readOnly) {
      // A reader takes no lock and changes nothing: the store must already be there.
      if (
        existing === undefined ||
        !s.fs.readDir(s.dataDir).some((n) => parseSegmentName(n) !== undefined)
      ) {
        throw new InvalidArgumentError(`readOnly: no store in "${s.dataDir}" (no segment files)`);
      }
    } else {
      s.fs.mkdir(s.dataDir);
      // The directory itself is locked: deleting a file in it (say a "stale" LOCK) cannot
      // let a second writer in.
      lock = s.fs.lockDir(s.dataDir);
      if (lock === undefined) throw new StoreLockedError(s.dataDir);
    }
    const store = new Store(s, lock);
    try {
      store.#recover(started);
    } catch (e) {
      store.#reader.close();
      lock?.release();
      throw e;
    }
    return store;
  }

  // ---------------------------------------------------------------- recovery

  #listSegments(): number[] {
    const names = this.#fs.readDir(this.#s.dataDir);
    const segments: number[] = [];
    for (const name of names) {
      const n = parseSegmentName(name);
      if (n !== undefined) segments.push(n);
      else if (name.endsWith(".tmp") && !this.#s.readOnly) {
        this.#fs.remove(join(this.#s.dataDir, name));
      }
    }
    segments.sort((a, b) => a - b);
    // Segments are never removed: a log that does not start at 1 lost its head.
    if (segments.length > 0 && segments[0] !== 1) {
      throw new CorruptSegmentError(
        segmentName(1),
        0,
        `segment missing: the log starts at ${segmentName(segments[0])}`,
      );
    }
    for (let i = 1; i < segments.length; i++) {
      if (segments[i] !== segments[i - 1] + 1) {
        throw new CorruptSegmentError(
          segmentName(segments[i - 1] + 1),
          0,
          `segment missing between ${segmentName(segments[i - 1])} and ${segmentName(segments[i])}`,
        );
      }
    }
    return segments;
  }

  #recover(started: number): void {
    const s = this.#s;
    this.#segments = this.#listSegments();
    const rejected: string[] = [];
    if (this.#segments.length === 0) {
      const h = LogWriter.createSegment(this.#fs, s.dataDir, 1);
      this.#segments = [1];
      this.#writer = new LogWriter(
        {
          fs: this.#fs,
          dataDir: s.dataDir,
          segmentMaxBytes: s.segmentMaxBytes,
          syncMode: s.syncMode,
        },
        1,
        h,
        SEGMENT_HEADER_BYTES,
        (n) => this.#onRotate(n),
      );
      this.#reader.attach(this.#writer);
      this.#openReport = {
        path: "rebuild",
        restoredEntries: 0,
        tailEntries: 0,
        elapsedMs: performance.now() - started,
        truncatedBytes: 0,
        rejectedSidecars: [],
      };
      return;
    }
    const attempts: [SidecarKind | "rebuild", boolean][] = [
      ["image", s.enableMmapIndex],
      ["checkpoint", s.enableCheckpoint],
      ["rebuild", true],
    ];
    for (const [kind, enabled] of attempts) {
      if (!enabled) continue;
      if (kind === "rebuild") {
        this.#restore("rebuild", undefined, undefined, rejected, started);
        return;
      }
      const file = kind === "image" ? IMAGE_FILE : CHECKPOINT_FILE;
      const path = join(s.dataDir, file);
      if (!this.#fs.stat(path)) continue;
      const loaded = loadSidecar(this.#fs, path, kind);
      if (typeof loaded === "string") {
        rejected.push(`${file}: ${loaded}`);
        continue;
      }
      const stale = this.#checkCoverage(loaded.coverage, loaded.index.count);
      if (stale) {
        rejected.push(`${file}: ${stale}`);
        continue;
      }
      try {
        this.#index = loaded.index;
        this.#system = SystemState.fromPlain(loaded.system);
        this.#restore(
          kind === "image" ? "mmap" : "checkpoint",
          loaded.coverage,
          loaded.index.count,
          rejected,
          started,
        );
        return;
      } catch (e) {
        // The log past the sidecar disagrees with it: distrust the sidecar, not the log.
        rejected.push(`${file}: tail scan failed: ${(e as Error).message}`);
        this.#index = new Index();
        this.#system = new SystemState();
        this.#entityBytes.length = 0;
        this.#scopeBytes.length = 0;
      }
    }
  }

  #checkCoverage(c: Coverage, count: number): string | undefined {
    if (!this.#segments.includes(c.segment)) return `covers segment ${c.segment}, which is missing`;
    const path = join(this.#s.dataDir, segmentName(c.segment));
    const size = this.#fs.stat(path)?.size ?? 0;
    if (size < c.endOffset) {
      return `covers ${c.endOffset} bytes of ${segmentName(c.segment)}, which has ${size}`;
    }
    if (count > 0) {
      if (!this.#segments.includes(c.lastFrameSegment)) {
        return "its last covered frame's segment is missing";
      }
      const h = this.#fs.open(join(this.#s.dataDir, segmentName(c.lastFrameSegment)), {
        read: true,
      });
      try {
        const b = new Uint8Array(4);
        if (h.read(b, c.lastFrameOffset) !== 4 || frameCrcAt(b, 0) !== c.lastFrameCrc) {
          return "its last covered frame does not match the log";
        }
      } finally {
        h.close();
      }
    }
    return undefined;
  }

  #restore(
    path: OpenReport["path"],
    coverage: Coverage | undefined,
    restored: number | undefined,
    rejected: string[],
    started: number,
  ): void {
    const s = this.#s;
    const index = this.#index;
    const start = coverage
      ? { segment: coverage.segment, offset: coverage.endOffset }
      : { segment: this.#segments[0], offset: 0 };
    const restoredEntries = restored ?? 0;
    const result = scanLog(this.#fs, s.dataDir, this.#segments, start, this.#scanSink());
    const last = result.lastSegment;
    const lastPath = join(s.dataDir, segmentName(last));
    let handle: FileHandle;
    if (s.readOnly) {
      // Follow the log as it is: a torn or still-being-written tail is simply not read yet.
      handle = this.#fs.open(lastPath, { read: true });
      if (result.endOffset === 0) result.endOffset = SEGMENT_HEADER_BYTES;
    } else if (result.endOffset === 0) {
      // The last segment's header never landed: rewrite the segment from scratch.
      this.#fs.remove(lastPath);
      this.#fs.syncDir(s.dataDir);
      handle = LogWriter.createSegment(this.#fs, s.dataDir, last);
      result.endOffset = SEGMENT_HEADER_BYTES;
    } else {
      handle = this.#fs.open(lastPath, { read: true, write: true });
      if (result.truncatedBytes > 0) handle.truncate(result.endOffset);
      // Everything recovered counts as durable (durableMark below), but a process that died
      // after a failed fsync leaves its last frames, and the directory entry of a segment
      // whose creation failed before its syncDir, only in the page cache: make them durable
      // now, or acknowledged appends to that segment vanish in the next power loss
      // (regression: tests/sim_test.ts, seed 1135).
      handle.syncData();
      this.#fs.syncDir(s.dataDir);
    }
    if (coverage && result.lastFrameSegment === 0) {
      this.#lastFrame = {
        segment: coverage.lastFrameSegment,
        offset: coverage.lastFrameOffset,
        crc: coverage.lastFrameCrc,
      };
    } else if (result.lastFrameSegment !== 0) {
      this.#lastFrame = {
        segment: result.lastFrameSegment,
        offset: result.lastFrameOffset,
        crc: result.lastFrameCrc,
      };
    }
    this.#writer = new LogWriter(
      {
        fs: this.#fs,
        dataDir: s.dataDir,
        segmentMaxBytes: s.segmentMaxBytes,
        syncMode: s.syncMode,
        readOnly: s.readOnly,
      },
      last,
      handle,
      result.endOffset,
      (n) => this.#onRotate(n),
    );
    this.#writer.mark = index.count;
    this.#writer.durableMark = index.count;
    this.#reader.attach(this.#writer);
    if (index.count > 0) this.#ids.observe(index.idWords(index.count));
    // A restored sidecar already covers its events: the next checkpoint is due after new ones.
    this.#checkpointedCount = path === "rebuild" ? 0 : restoredEntries;
    this.#openReport = {
      path,
      restoredEntries,
      tailEntries: index.count - restoredEntries,
      elapsedMs: performance.now() - started,
      truncatedBytes: result.truncatedBytes,
      rejectedSidecars: rejected,
    };
  }

  #scanSink(): ScanSink {
    const index = this.#index;
    // Names by bytes: a sidecar-restored index has names but no encoded bytes yet.
    for (let id = 0; id < index.entities.names.length; id++) {
      this.#entityBytes[id] ??= textEncoder.encode(index.entities.names[id]);
    }
    for (let id = 0; id < index.scopes.names.length; id++) {
      this.#scopeBytes[id] ??= textEncoder.encode(index.scopes.names[id]);
    }
    const entities = new BytesIndex((id) => this.#entityBytes[id]);
    const scopes = new BytesIndex((id) => this.#scopeBytes[id]);
    for (let id = 0; id < this.#entityBytes.length; id++) {
      const b = this.#entityBytes[id];
      entities.add(hashBytes(b, 0, b.length), id);
    }
    for (let id = 0; id < this.#scopeBytes.length; id++) {
      const b = this.#scopeBytes[id];
      scopes.add(hashBytes(b, 0, b.length), id);
    }
    return {
      event: (
        segment: number,
        offset: number,
        frameLength: number,
        buf: Uint8Array,
        h: EventHeader,
      ) => {
        const g = index.count + 1;
        if (h.globalSequence !== g) {
          throw new CorruptSegmentError(
            segmentName(segment),
            offset,
            `global sequence ${h.globalSequence}, expected ${g}`,
          );
        }
        const entityId = entities.resolve(
          buf,
          h.entityAt,
          h.entityLength,
          () =>
            this.#internEntity(this.#decodeName(buf, h.entityAt, h.entityLength, segment, offset)),
        );
        const scopeId = scopes.resolve(
          buf,
          h.scopeAt,
          h.scopeLength,
          () => this.#internScope(this.#decodeName(buf, h.scopeAt, h.scopeLength, segment, offset)),
        );
        const expectedSeq = index.lastSequence(entityId) + 1;
        if (h.sequence !== expectedSeq) {
          throw new CorruptSegmentError(
            segmentName(segment),
            offset,
            `entity sequence ${h.sequence}, expected ${expectedSeq}`,
          );
        }
        if (expectedSeq > 1) {
          if (h.prevHashAt < 0 || !index.entityHashEquals(entityId, buf, h.prevHashAt)) {
            throw new CorruptSegmentError(
              segmentName(segment),
              offset,
              "hash chain broken: prevHash does not match",
            );
          }
        } else if (h.prevHashAt >= 0) {
          throw new CorruptSegmentError(
            segmentName(segment),
            offset,
            "first event of an entity has a prevHash",
          );
        }
        index.add(
          segment,
          offset,
          frameLength,
          entityId,
          scopeId,
          h.sequence,
          h.kind,
          h.timestampMs,
          readIdWords(buf, h.bodyAt),
        );
        index.setEntityHash(entityId, buf, h.hashAt);
        if (h.keyAt >= 0) {
          let key: string;
          try {
            key = keyString(h.keyIsString, buf.subarray(h.keyAt, h.keyAt + h.keyLength));
          } catch {
            // Only a forged frame (valid CRC) gets here: the writer encodes keys from strings.
            throw new CorruptSegmentError(
              segmentName(segment),
              offset,
              "idempotency key is not valid UTF-8",
            );
          }
          index.keys.set(key, g);
        }
        if (EventKind.category(h.kind as EventKind) === 0) {
          let payload: unknown;
          try {
            payload = decodePayload(buf.subarray(h.payloadAt, h.payloadEnd));
          } catch (e) {
            throw new CorruptSegmentError(
              segmentName(segment),
              offset,
              `system event payload: ${(e as Error).message}`,
            );
          }
          this.#system.apply(h.kind, index.scopes.names[scopeId], payload);
        }
      },
    };
  }

  #decodeName(
    buf: Uint8Array,
    at: number,
    length: number,
    segment: number,
    offset: number,
  ): string {
    try {
      return decodeText(buf, at, length);
    } catch {
      throw new CorruptSegmentError(segmentName(segment), offset, "a name is not valid UTF-8");
    }
  }

  #internEntity(name: string): number {
    const dim: Dimension = this.#index.entities;
    const before = dim.names.length;
    const id = dim.intern(name);
    if (id === before || this.#entityBytes[id] === undefined) {
      this.#entityBytes[id] = textEncoder.encode(name);
    }
    return id;
  }

  #internScope(name: string): number {
    const dim: Dimension = this.#index.scopes;
    const id = dim.intern(name);
    if (this.#scopeBytes[id] === undefined) this.#scopeBytes[id] = textEncoder.encode(name);
    return id;
  }

  #onRotate(segment: number): void {
    this.#segments.push(segment);
    this.#maybeCheckpoint();
  }

  #maybeCheckpoint(): void {
    if (!this.#s.enableCheckpoint || this.#s.readOnly) return;
    const since = this.#index.count - this.#checkpointedCount;
    if (since < CHECKPOINT_EVERY_EVENTS_MIN || since * 4 < this.#index.count) return;
    // Only durable bytes may be covered: a sidecar must never vouch for data a crash can lose.
    this.#writer.syncNow();
    this.#writeSidecar("checkpoint");
  }

  #writeSidecar(kind: SidecarKind): void {
    const coverage: Coverage = {
      segment: this.#writer.segment,
      endOffset: this.#writer.size,
      lastFrameSegment: this.#lastFrame.segment,
      lastFrameOffset: this.#lastFrame.offset,
      lastFrameCrc: this.#lastFrame.crc,
    };
    try {
      saveSidecar(this.#fs, this.#s.dataDir, kind, this.#index, coverage, this.#system.toPlain());
    } catch {
      // A sidecar only speeds up the next open; the log is the truth. A full or failing disk
      // must not fail the append or close that triggered it: the next open takes a slower path
      // (a leftover .tmp is removed then), and the next checkpoint is tried a full interval later.
    }
    if (kind === "checkpoint") this.#checkpointedCount = this.#index.count;
  }

  // ------------------------------------------------------------------ writes

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /**
   * Append one event. Returns once the event is visible to every read of
   * this store; it is durable after the next sync (every
   * `sync.everyNEvents`, {@linkcode Store.sync}, {@linkcode Store.durable},
   * {@linkcode Store.close}).
   *
   * Throws {@linkcode ConcurrencyError} when `expectedSequence` does not
   * match, {@linkcode ReservedKindError} for store-reserved kinds,
   * {@linkcode OwnershipError} for a stale fence, and another
   * {@linkcode StoreError} for any bad input; a rejected append writes
   * nothing. A repeated `idempotencyKey` returns the first receipt.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const coord = new Coordinate("account:7", "bank");
   * const opened = EventKind.custom(0x2, 1);
   * store.append(coord, opened, { owner: "ada" }, { expectedSequence: 0 });
   * const again = store.append(coord, opened, {}, { idempotencyKey: "open-7" });
   * console.log(store.append(coord, opened, {}, { idempotencyKey: "open-7" }).eventId === again.eventId); // true
   * store.close();
   * ```
   */
  append(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options?: AppendOptions,
  ): AppendReceipt {
    checkUserKind(kind);
    return this.#appendOne(coord, kind, payload, options, undefined);
  }

  #appendOne(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options: AppendOptions | undefined,
    systemFence: FenceCheck | undefined,
  ): AppendReceipt {
    this.#assertOpen();
    this.#writer.assertWritable();
    const p = this.#prepare(coord, kind, payload, options, "append");
    if (systemFence) p.fence = systemFence;
    const index = this.#index;
    if (p.keyStr !== null) {
      const existing = index.keys.get(p.keyStr);
      if (existing !== undefined) return this.#receiptOf(existing);
    }
    const last = index.lastSequence(p.entityId);
    const expected = options?.expectedSequence;
    if (expected !== undefined && expected !== last) {
      throw new ConcurrencyError(p.entity, expected, last);
    }
    if (p.fence) checkFence(this.#system, p.scope, p.fence, this.#s.clock());
    const g = index.count + 1;
    if (g > GLOBAL_SEQUENCE_MAX) {
      throw new StoreError("LOG_FULL", "the log holds the maximum number of events");
    }
    // A view is enough: the body copies it before the entity's hash changes.
    const prevHash = last > 0 ? index.entityHash(p.entityId) : null;
    assertBodyFits(p, last > 0);
    // Interning fills the entity's bytes, which a sidecar-restored index lacks.
    const entityId = this.#internEntity(p.entity);
    const scopeId = this.#internScope(p.scope);
    const timestampMs = this.#ids.next();
    const idWords = this.#ids.words;
    const parts = this.#parts(p, entityId, scopeId, last + 1, g, timestampMs, idWords, prevHash);
    const bodyLength = eventBodyLength(parts);
    if (bodyLength > FRAME_BODY_BYTES_MAX) {
      throw new PayloadTooLargeError(bodyLength, FRAME_BODY_BYTES_MAX);
    }
    const frameLength = FRAME_HEADER_BYTES + bodyLength;
    this.#writer.ensureRoom(frameLength);
    const segment = this.#writer.segment;
    const offset = this.#writer.size;
    const { buf, at } = this.#writer.reserve(frameLength);
    const hashAt = writeEventBody(buf, at + FRAME_HEADER_BYTES, parts);
    sealFrame(buf, at, bodyLength, FrameKind.Event, 0);
    const hash = keepHash(buf, hashAt);
    this.#lastFrame = { segment, offset, crc: frameCrcAt(buf, at) };
    this.#writer.commit(frameLength, g);
    index.add(
      segment,
      offset,
      frameLength,
      entityId,
      scopeId,
      last + 1,
      p.kind,
      timestampMs,
      idWords,
    );
    index.setEntityHash(entityId, hash);
    if (p.keyStr !== null) index.keys.set(p.keyStr, g);
    if (EventKind.category(p.kind as EventKind) === 0) {
      this.#system.apply(p.kind, p.scope, decodePayload(p.payload));
    }
    if (++this.#sinceSync >= this.#s.everyNEvents) {
      this.#sinceSync = 0;
      // Blocking, like batpak's writer thread: the Nth append returns durable.
      this.#writer.syncNow();
      this.#maybeCheckpoint();
    }
    this.#notify();
    return new Receipt(last + 1, g, idWords, hash);
  }

  #parts(
    p: Prepared,
    entityId: number,
    scopeId: number,
    sequence: number,
    g: number,
    timestampMs: number,
    id: IdWords,
    prevHash: Uint8Array | null,
  ): EventParts {
    return {
      id,
      sequence,
      globalSequence: g,
      timestampMs,
      kind: p.kind,
      prevHash,
      correlationId: p.correlation,
      causationId: p.causation,
      entity: this.#entityBytes[entityId],
      scope: this.#scopeBytes[scopeId],
      key: p.keyBytes,
      keyIsString: p.keyIsString,
      payload: p.payload,
    };
  }

  #prepare(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options: AppendOptions | undefined,
    where: string,
  ): Prepared {
    if (!(coord instanceof Coordinate)) {
      throw new InvalidCoordinateError(
        `${where}: coord must be a Coordinate, found ${describeValue(coord)}`,
      );
    }
    if (!isEventKind(kind)) {
      throw new InvalidArgumentError(
        `${where}: kind must be an EventKind, found ${describeValue(kind)}`,
      );
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new InvalidArgumentError(
        `${where}: options must be an object, found ${describeValue(options)}`,
      );
    }
    const o = options ?? {};
    if (o.expectedSequence !== undefined) {
      const e = o.expectedSequence;
      if (typeof e !== "number" || !Number.isInteger(e) || e < 0) {
        throw new InvalidArgumentError(
          `${where}: expectedSequence must be an integer ≥ 0, found ${describeValue(e)}`,
        );
      }
    }
    let keyBytes: Uint8Array | null = null;
    let keyIsString = false;
    let keyStr: string | null = null;
    const key = o.idempotencyKey;
    if (key !== undefined) {
      if (typeof key === "string") {
        if (key.length === 0) {
          throw new InvalidArgumentError(`${where}: idempotencyKey must not be empty`);
        }
        // UTF-8 turns every lone surrogate into U+FFFD: distinct keys would collide.
        if (!key.isWellFormed()) {
          throw new InvalidArgumentError(`${where}: idempotencyKey has a lone UTF-16 surrogate`);
        }
        keyBytes = textEncoder.encode(key);
        if (keyBytes.length > IDEMPOTENCY_KEY_BYTES_MAX) {
          throw new InvalidArgumentError(
            `${where}: idempotencyKey is ${keyBytes.length} bytes; the maximum is ${IDEMPOTENCY_KEY_BYTES_MAX}`,
          );
        }
        keyIsString = true;
      } else if (typeof key === "bigint") {
        if (key < 0n || key > BIGINT_KEY_MAX) {
          throw new InvalidArgumentError(
            `${where}: a bigint idempotencyKey must be in 0..2^128-1, found ${key}`,
          );
        }
        keyBytes = new Uint8Array(16);
        let v = key;
        for (let i = 15; i >= 0; i--) {
          keyBytes[i] = Number(v & 0xffn);
          v >>= 8n;
        }
      } else {
        throw new InvalidArgumentError(
          `${where}: idempotencyKey must be a bigint or a string, found ${describeValue(key)}`,
        );
      }
      keyStr = keyString(keyIsString, keyBytes);
    }
    const correlation = o.correlationId === undefined
      ? null
      : idBytes(requireId(`${where}: correlationId`, o.correlationId));
    const causation = o.causationId === undefined
      ? null
      : idBytes(requireId(`${where}: causationId`, o.causationId));
    const fence = o.fence === undefined ? undefined : validateFence(o.fence, where);
    const encoded = encodePayload(payload);
    if (encoded.length > FRAME_BODY_BYTES_MAX) {
      throw new PayloadTooLargeError(encoded.length, FRAME_BODY_BYTES_MAX);
    }
    return {
      entity: coord.entity,
      scope: coord.scope,
      entityId: this.#index.entities.lookup(coord.entity),
      kind,
      payload: encoded,
      keyBytes,
      keyIsString,
      keyStr,
      correlation,
      causation,
      fence,
    };
  }

  /**
   * Append several events atomically: after a crash either all of them are
   * in the log or none. The batch is fsynced before it becomes visible. CAS
   * and idempotency are checked per item in order, counting earlier items of
   * the batch; if any item fails, nothing is written. An item whose key was
   * already used gets the earlier receipt and writes nothing.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const kind = EventKind.custom(0x1, 2);
   * const cart = new Coordinate("cart:9", "shop");
   * const receipts = store.appendBatch([
   *   { coord: cart, kind, payload: { add: "apple" } },
   *   { coord: cart, kind, payload: { add: "pear" }, causation: { priorItem: 0 } },
   * ]);
   * console.log(receipts.map((r) => r.sequence)); // [ 1, 2 ]
   * store.close();
   * ```
   */
  appendBatch(items: BatchAppendItem[]): AppendReceipt[] {
    this.#assertOpen();
    if (!Array.isArray(items)) {
      throw new InvalidArgumentError(
        `appendBatch needs an array of items, found ${describeValue(items)}`,
      );
    }
    if (items.length > BATCH_ITEMS_MAX) {
      throw new InvalidArgumentError(
        `a batch holds at most ${BATCH_ITEMS_MAX} items, found ${items.length}`,
      );
    }
    this.#writer.assertWritable();
    const index = this.#index;
    const receipts: AppendReceipt[] = new Array(items.length);
    const aliases: [number, number][] = [];
    const plans = this.#planBatch(items, receipts, aliases);
    if (plans.length === 0) return receipts;
    if (index.count + plans.length > GLOBAL_SEQUENCE_MAX) {
      throw new StoreError("LOG_FULL", "the log cannot hold this batch");
    }
    // Pass 1: every frame's parts and size, before anything is written (a failure here leaves
    // the log untouched).
    const firstG = index.count + 1;
    const partsOf: EventParts[] = new Array(plans.length);
    const lengths: number[] = new Array(plans.length);
    const planned = new Map<number, number>(); // item → position in the batch
    let total = 0;
    for (let k = 0; k < plans.length; k++) {
      const plan = plans[k];
      const p = plan.p;
      // A sidecar-restored index has names but no encoded bytes yet.
      const entityBytes = (p.entityId >= 0 ? this.#entityBytes[p.entityId] : undefined) ??
        textEncoder.encode(p.entity);
      const scopeId = index.scopes.lookup(p.scope);
      const scopeBytes = (scopeId >= 0 ? this.#scopeBytes[scopeId] : undefined) ??
        textEncoder.encode(p.scope);
      let causation = plan.causation;
      if (plan.priorItem >= 0) {
        const prior = planned.get(plan.priorItem);
        causation = prior !== undefined
          ? idBytes(partsOf[prior].id as IdWords)
          : idBytes(requireId("causation", receipts[plan.priorItem].eventId));
      }
      const ts = this.#ids.next();
      const parts: EventParts = {
        id: [...this.#ids.words],
        sequence: plan.sequence,
        globalSequence: firstG + k,
        timestampMs: ts,
        kind: p.kind,
        // The real link is filled in pass 2, once earlier items of the batch are hashed.
        prevHash: plan.sequence > 1 ? HASH_PLACEHOLDER : null,
        correlationId: p.correlation,
        causationId: causation,
        entity: entityBytes,
        scope: scopeBytes,
        key: p.keyBytes,
        keyIsString: p.keyIsString,
        payload: p.payload,
      };
      const bodyLength = eventBodyLength(parts);
      if (bodyLength > FRAME_BODY_BYTES_MAX) {
        throw new PayloadTooLargeError(bodyLength, FRAME_BODY_BYTES_MAX);
      }
      partsOf[k] = parts;
      lengths[k] = FRAME_HEADER_BYTES + bodyLength;
      planned.set(plan.item, k);
      total += lengths[k];
    }
    // Pass 2: BEGIN, the frames straight into the write buffer, COMMIT, one fsync.
    const markerLength = FRAME_HEADER_BYTES + 8;
    const writer = this.#writer;
    writer.ensureRoom(total + markerLength * 2);
    const segment = writer.segment;
    const writeMarker = (kind: number, mark: number): number => {
      const m = writer.reserve(markerLength);
      m.buf.set(encodeMarker(plans.length, firstG), m.at + FRAME_HEADER_BYTES);
      sealFrame(m.buf, m.at, 8, kind, 0);
      const crc = frameCrcAt(m.buf, m.at);
      writer.commit(markerLength, mark);
      return crc;
    };
    writeMarker(FrameKind.BatchBegin, 0);
    const offsets: number[] = new Array(plans.length);
    const hashes: Uint8Array[] = new Array(plans.length);
    const lastHash = new Map<string, Uint8Array>();
    const { buf, at } = writer.reserve(total);
    let offset = writer.size;
    let w = at;
    for (let k = 0; k < plans.length; k++) {
      const parts = partsOf[k];
      const entity = plans[k].p.entity;
      if (parts.prevHash) {
        parts.prevHash = lastHash.get(entity) ?? index.entityHash(plans[k].p.entityId);
      }
      const hashAt = writeEventBody(buf, w + FRAME_HEADER_BYTES, parts);
      sealFrame(buf, w, lengths[k] - FRAME_HEADER_BYTES, FrameKind.Event, FLAG_IN_BATCH);
      const hash = keepHash(buf, hashAt);
      lastHash.set(entity, hash);
      hashes[k] = hash;
      offsets[k] = offset;
      receipts[plans[k].item] = new Receipt(
        plans[k].sequence,
        firstG + k,
        parts.id as IdWords,
        hash,
      );
      offset += lengths[k];
      w += lengths[k];
    }
    writer.commit(total, 0);
    for (const [i, earlier] of aliases) receipts[i] = receipts[earlier];
    const commitOffset = writer.size;
    const commitCrc = writeMarker(FrameKind.BatchCommit, firstG + plans.length - 1);
    writer.syncNow(); // durable before visible
    this.#lastFrame = { segment, offset: commitOffset, crc: commitCrc };
    for (let k = 0; k < plans.length; k++) {
      const plan = plans[k];
      const p = plan.p;
      const entityId = this.#internEntity(p.entity);
      const scopeId = this.#internScope(p.scope);
      const parts = partsOf[k];
      index.add(
        segment,
        offsets[k],
        lengths[k],
        entityId,
        scopeId,
        plan.sequence,
        p.kind,
        parts.timestampMs,
        parts.id as IdWords,
      );
      index.setEntityHash(entityId, hashes[k]);
      if (p.keyStr !== null) index.keys.set(p.keyStr, firstG + k);
      if (EventKind.category(p.kind as EventKind) === 0) {
        this.#system.apply(p.kind, p.scope, decodePayload(p.payload));
      }
    }
    this.#sinceSync = 0;
    this.#maybeCheckpoint();
    this.#notify();
    return receipts;
  }

  /**
   * Validate every item and decide, in order, which ones write: CAS and
   * idempotency count earlier items. Fills `receipts` for items deduplicated
   * against the log; `aliases` gets `[item, earlier item]` for in-batch duplicates.
   */
  #planBatch(
    items: BatchAppendItem[],
    receipts: AppendReceipt[],
    aliases: [number, number][],
  ): BatchPlan[] {
    const index = this.#index;
    const aliasOf = new Map<number, number>();
    const lastSeq = new Map<string, number>();
    const batchKeys = new Map<string, number>();
    const plans: BatchPlan[] = [];
    const arena = new ByteArena();
    const now = this.#s.clock();
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const where = `appendBatch item ${i}`;
      if (typeof item !== "object" || item === null) {
        throw new InvalidArgumentError(`${where} must be an object, found ${describeValue(item)}`);
      }
      checkUserKind(item.kind, where);
      const p = this.#prepare(item.coord, item.kind, item.payload, item.options, where);
      p.payload = arena.keep(p.payload); // the encoder's view is reused by the next item
      let priorItem = -1;
      let causation = p.causation;
      if (item.causation !== undefined) {
        const c = item.causation as { priorItem?: unknown; eventId?: unknown };
        if (typeof c !== "object" || c === null) {
          throw new InvalidArgumentError(
            `${where}: causation must be { priorItem } or { eventId }`,
          );
        }
        if ("priorItem" in c) {
          const j = c.priorItem;
          if (typeof j !== "number" || !Number.isInteger(j) || j < 0 || j >= i) {
            throw new InvalidArgumentError(
              `${where}: causation.priorItem must index an earlier item (0..${i - 1}), found ${
                describeValue(j)
              }`,
            );
          }
          priorItem = aliasOf.get(j) ?? j;
          causation = null;
        } else if ("eventId" in c) {
          causation = idBytes(requireId(`${where}: causation.eventId`, c.eventId));
        } else {
          throw new InvalidArgumentError(
            `${where}: causation must be { priorItem } or { eventId }`,
          );
        }
      }
      if (p.keyStr !== null) {
        const existing = index.keys.get(p.keyStr);
        if (existing !== undefined) {
          receipts[i] = this.#receiptOf(existing);
          continue;
        }
        const earlier = batchKeys.get(p.keyStr);
        if (earlier !== undefined) {
          // The earlier item's receipt exists only once it is encoded.
          aliasOf.set(i, earlier);
          aliases.push([i, earlier]);
          continue;
        }
        batchKeys.set(p.keyStr, i);
      }
      const last = lastSeq.get(p.entity) ?? index.lastSequence(p.entityId);
      const expected = item.options?.expectedSequence;
      if (expected !== undefined && expected !== last) {
        throw new ConcurrencyError(p.entity, expected, last);
      }
      if (p.fence) checkFence(this.#system, p.scope, p.fence, now);
      lastSeq.set(p.entity, last + 1);
      plans.push({ item: i, p, sequence: last + 1, priorItem, causation });
    }
    return plans;
  }

  #receiptOf(g: number): AppendReceipt {
    const buf = this.#internals.readRawFrame(g);
    const h = readEventHeader(buf, FRAME_HEADER_BYTES, buf.length - FRAME_HEADER_BYTES);
    if (typeof h === "string") {
      const loc = this.#index.location(g);
      throw new CorruptSegmentError(segmentName(loc.segment), loc.offset, h);
    }
    return new Receipt(
      h.sequence,
      g,
      this.#index.idWords(g),
      buf.slice(h.hashAt, h.hashAt + HASH_BYTES),
      true,
    );
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }

  /**
   * Record a gate's {@linkcode Denial} as a system event, for audit: a denied
   * write leaves this evidence and no user data. The event goes to entity
   * `"$denials"`, scope `"$system"`, with a system kind (category 0), so it
   * survives reopen like any event and stays out of user streams, scopes and
   * user-kind queries. Durable on the usual sync schedule.
   *
   * The payload is `{ gate, code, message, context, attempt? }`. `context`
   * holds the denial's context and `attempt` the optional description of what
   * was refused (e.g. the coordinate), both as `[key, value]` pairs: pairs
   * keep their order and let any key through, `"__proto__"` included, which
   * a MessagePack map would not (`Object.fromEntries` turns them back).
   *
   * Throws {@linkcode InvalidArgumentError} when `denial` is not a Denial or
   * `attempt` is not an object of strings; nothing is written then.
   *
   * @param denial The denial to record.
   * @param attempt What was refused, as string pairs (optional).
   * @returns The receipt of the denial event.
   *
   * @example
   * ```ts
   * import { Denial, Store } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const store = Store.open(Deno.makeTempDirSync());
   * const denial = new Denial("max_amount", "Over the limit. Investigate: the caller", "OVER_LIMIT")
   *   .withContext("amount", "500");
   * const receipt = store.appendDenial(denial, { entity: "account:1" });
   *
   * const recorded = store.get(receipt.eventId);
   * assert.equal(recorded.entity, "$denials");
   * assert.deepEqual(recorded.payload, {
   *   gate: "max_amount",
   *   code: "OVER_LIMIT",
   *   message: "Over the limit. Investigate: the caller",
   *   context: [["amount", "500"]],
   *   attempt: [["entity", "account:1"]],
   * });
   * store.close();
   * ```
   */
  appendDenial(denial: Denial, attempt?: Readonly<Record<string, string>>): AppendReceipt {
    this.#assertOpen();
    if (!(denial instanceof Denial)) {
      throw new InvalidArgumentError(
        `appendDenial: denial must be a Denial, found ${describeValue(denial)}`,
      );
    }
    const payload: Record<string, unknown> = {
      gate: denial.gate,
      code: denial.code,
      message: denial.message,
      context: Object.entries(denial.context),
    };
    if (attempt !== undefined) {
      const pairs = typeof attempt === "object" && attempt !== null && !Array.isArray(attempt)
        ? Object.entries(attempt)
        : undefined;
      if (pairs === undefined || pairs.some(([, v]) => typeof v !== "string")) {
        throw new InvalidArgumentError(
          `appendDenial: attempt must be an object of strings, found ${describeValue(attempt)}`,
        );
      }
      payload.attempt = pairs;
    }
    return this.#appendOne(
      new Coordinate(DENIAL_ENTITY, SYSTEM_SCOPE),
      SystemKind.Denial,
      payload,
      undefined,
      undefined,
    );
  }

  /** Resolves once everything appended so far is on disk; overlapping callers share one fsync. */
  durable(): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#writer.durable();
  }

  /** Fsync now, blocking. */
  sync(): void {
    this.#assertOpen();
    this.#writer.syncNow();
    this.#sinceSync = 0;
  }

  /**
   * For a store opened with `readOnly: true`: read the events another
   * process appended since the open (or the last refresh) into the index,
   * wake subscribers, and return how many arrived. A writable store is
   * always current: 0. A frame still being written is left for the next
   * call; damage that a writer cannot produce throws
   * {@linkcode CorruptSegmentError}.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const dir = Deno.makeTempDirSync();
   * const writer = Store.open(dir);
   * writer.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 1);
   * writer.sync();
   * const reader = Store.open({ dataDir: dir, readOnly: true }); // no lock: both stay open
   * writer.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 2);
   * writer.sync();
   * console.log(reader.refresh(), reader.stream("a").length); // 1 2
   * reader.close();
   * writer.close();
   * ```
   */
  refresh(): number {
    this.#assertOpen();
    if (!this.#s.readOnly) return 0;
    const index = this.#index;
    const before = index.count;
    this.#segments = this.#listSegments();
    const writer = this.#writer;
    const result = scanLog(
      this.#fs,
      this.#s.dataDir,
      this.#segments,
      { segment: writer.segment, offset: writer.size },
      this.#scanSink(),
    );
    const handle = result.lastSegment !== writer.segment
      ? this.#fs.open(join(this.#s.dataDir, segmentName(result.lastSegment)), { read: true })
      : undefined;
    const end = result.endOffset === 0 ? SEGMENT_HEADER_BYTES : result.endOffset;
    writer.advanceTo(result.lastSegment, handle, Math.max(end, SEGMENT_HEADER_BYTES));
    writer.mark = index.count;
    writer.durableMark = index.count;
    if (result.lastFrameSegment !== 0) {
      this.#lastFrame = {
        segment: result.lastFrameSegment,
        offset: result.lastFrameOffset,
        crc: result.lastFrameCrc,
      };
    }
    if (index.count > before) this.#notify();
    return index.count - before;
  }

  // ------------------------------------------------------------------- reads

  /** The event `g`: decoded by the read side (src/read/_events.ts), shared with cursors. */
  #readEvent(g: number): StoredEvent {
    return readOne(this.#internals, g);
  }

  /**
   * The event with this id. Throws {@linkcode NotFoundError} when unknown.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const { eventId } = store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), "hi");
   * console.log(store.get(eventId).payload); // hi
   * store.close();
   * ```
   */
  get(id: EventId): StoredEvent {
    this.#assertOpen();
    const words = requireId("get: id", id);
    const g = this.#index.findId(words);
    if (g === 0) throw new NotFoundError(`no event with id ${id}`);
    return this.#readEvent(g);
  }

  /** Every event of one entity, in sequence order (index entries; payloads via {@linkcode Store.get}). */
  stream(entity: string): IndexEntry[] {
    this.#assertOpen();
    if (typeof entity !== "string") {
      throw new InvalidArgumentError(
        `stream: entity must be a string, found ${describeValue(entity)}`,
      );
    }
    const id = this.#index.entities.lookup(entity);
    if (id < 0) return [];
    const postings = this.#index.entities.postings[id];
    const out: IndexEntry[] = new Array(postings.length);
    for (let i = 0; i < postings.length; i++) out[i] = this.#index.entry(postings.items[i]);
    return out;
  }

  /**
   * Events of exactly `entity`, with payloads: from sequence `options.from`
   * (inclusive; default the first, or the last when going backwards), at
   * most `options.maxCount`, in `options.direction` order (default
   * `"forwards"`).
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const kind = EventKind.custom(1, 1);
   * for (let i = 1; i <= 4; i++) store.append(new Coordinate("acct:1", "bank"), kind, i);
   * store.append(new Coordinate("acct:10", "bank"), kind, 99); // another entity
   * console.log(store.readStream("acct:1", { from: 2, maxCount: 2 }).map((e) => e.payload)); // [ 2, 3 ]
   * console.log(store.readStream("acct:1", { direction: "backwards", maxCount: 1 })[0].payload); // 4
   * store.close();
   * ```
   */
  readStream(entity: string, options?: ReadStreamOptions): StoredEvent[] {
    this.#assertOpen();
    if (typeof entity !== "string") {
      throw new InvalidArgumentError(
        `readStream: entity must be a string, found ${describeValue(entity)}`,
      );
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new InvalidArgumentError(
        `readStream: options must be an object, found ${describeValue(options)}`,
      );
    }
    const { from, maxCount, direction = "forwards" } = options ?? {};
    if (direction !== "forwards" && direction !== "backwards") {
      throw new InvalidArgumentError(
        `readStream: direction must be "forwards" or "backwards", found ${describeValue(direction)}`,
      );
    }
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) {
      throw new InvalidArgumentError(
        `readStream: from must be an integer ≥ 1, found ${describeValue(from)}`,
      );
    }
    if (maxCount !== undefined && (!Number.isSafeInteger(maxCount) || maxCount < 0)) {
      throw new InvalidArgumentError(
        `readStream: maxCount must be an integer ≥ 0, found ${describeValue(maxCount)}`,
      );
    }
    const id = this.#index.entities.lookup(entity);
    if (id < 0) return [];
    const postings = this.#index.entities.postings[id];
    const last = postings.length;
    const limit = maxCount ?? last;
    if (direction === "forwards") {
      const start = (from ?? 1) - 1;
      return readEvents(this.#internals, postings.items, start, Math.min(last, start + limit));
    }
    const top = Math.min(from ?? last, last);
    const start = Math.max(0, top - limit);
    return readEvents(this.#internals, postings.items, start, top).reverse();
  }

  /**
   * The entity's last sequence (its event count), 0 when it has none. O(1).
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
   * console.log(store.lastSequence("a"), store.lastSequence("b")); // 1 0
   * store.close();
   * ```
   */
  lastSequence(entity: string): number {
    this.#assertOpen();
    if (typeof entity !== "string") {
      throw new InvalidArgumentError(
        `lastSequence: entity must be a string, found ${describeValue(entity)}`,
      );
    }
    return this.#index.lastSequence(this.#index.entities.lookup(entity));
  }

  /**
   * Up to `options.limit` events of the region after global sequence
   * `options.after`, in global order, with payloads: a page of a catch-up
   * read ({@linkcode Store.queryAfter} with payloads).
   */
  read(region: Region, options: ReadOptions): StoredEvent[] {
    this.#assertOpen();
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        `read: options must be { after, limit }, found ${describeValue(options)}`,
      );
    }
    const { after, limit } = options;
    const gs = this.#queryChecked("read", region, after, limit);
    return readEvents(this.#internals, gs);
  }

  #queryChecked(where: string, region: Region, after: unknown, limit: unknown): number[] {
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `${where}: region must be a Region, found ${describeValue(region)}`,
      );
    }
    if (typeof after !== "number" || !Number.isSafeInteger(after) || after < 0) {
      throw new InvalidArgumentError(
        `${where}: after must be an integer ≥ 0, found ${describeValue(after)}`,
      );
    }
    if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 0) {
      throw new InvalidArgumentError(
        `${where}: limit must be an integer ≥ 0, found ${describeValue(limit)}`,
      );
    }
    return queryIndex(this.#index, region, after, limit);
  }

  /**
   * Every event in the region, in global order (index entries; payloads via
   * {@linkcode Store.get} or a cursor). `Region.all()` is the whole log,
   * the store's own system events included, so its global sequences are
   * gapless; a region narrowed to an entity prefix or a scope leaves system
   * events (category 0x0) out unless its kind or category filter asks for
   * them. Costs what it returns: entity prefixes and scopes walk their
   * postings, not the log.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Region, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const placed = EventKind.custom(0x1, 1);
   * const paid = EventKind.custom(0x1, 2);
   * store.append(new Coordinate("order:1", "shop"), placed, {});
   * store.append(new Coordinate("order:2", "shop"), placed, {});
   * store.append(new Coordinate("order:1", "shop"), paid, {});
   * store.append(new Coordinate("user:1", "crm"), placed, {});
   * console.log(store.query(Region.entity("order:")).length); // 3
   * console.log(store.query(Region.scope("shop").withKinds(paid)).length); // 1
   * store.close();
   * ```
   */
  query(region: Region): IndexEntry[] {
    return this.queryAfter(region, 0, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Up to `limit` events of the region with `globalSequence >
   * afterGlobalSequence`, in global order: a page of {@linkcode Store.query}.
   */
  queryAfter(region: Region, afterGlobalSequence: number, limit: number): IndexEntry[] {
    this.#assertOpen();
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `query: region must be a Region, found ${describeValue(region)}`,
      );
    }
    if (!Number.isInteger(afterGlobalSequence) || afterGlobalSequence < 0) {
      throw new InvalidArgumentError(
        `queryAfter: afterGlobalSequence must be an integer ≥ 0, found ${
          describeValue(afterGlobalSequence)
        }`,
      );
    }
    if (!Number.isInteger(limit) || limit < 0) {
      throw new InvalidArgumentError(
        `queryAfter: limit must be an integer ≥ 0, found ${describeValue(limit)}`,
      );
    }
    return queryIndex(this.#index, region, afterGlobalSequence, limit).map((g) =>
      this.#index.entry(g)
    );
  }

  /**
   * A pull cursor over the region (see {@linkcode Store.query} for what a
   * region holds) in global order, starting after `options.after` (default
   * 0; at most the last global sequence). It never skips or repeats an
   * event, and sees events appended while it iterates. Resume after a
   * restart with {@linkcode Store.saveCursor} / {@linkcode Store.loadCursor}.
   * `pollBatch` of a few hundred events is the fastest way to read many
   * events (neighbouring frames are read together); far larger batches keep
   * more events alive at once and spend the gain in garbage collection.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Region, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const kind = EventKind.custom(0x1, 1);
   * const coord = new Coordinate("cursor:test", "s");
   * for (let i = 0; i < 5; i++) store.append(coord, kind, { i });
   * const cursor = store.cursorGuaranteed(Region.entity("cursor:test"));
   * let seen = 0;
   * while (cursor.poll() !== undefined) seen++;
   * console.log(seen, cursor.position); // 5 5
   * store.append(coord, kind, { i: 5 });
   * console.log(cursor.pollBatch(10).length); // 1
   * store.close();
   * ```
   */
  cursorGuaranteed(region: Region, options?: { after?: number }): Cursor {
    this.#assertOpen();
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `cursorGuaranteed: region must be a Region, found ${describeValue(region)}`,
      );
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new InvalidArgumentError(
        `cursorGuaranteed: options must be an object, found ${describeValue(options)}`,
      );
    }
    const after = checkPosition(this.#internals, "cursorGuaranteed: after", options?.after ?? 0);
    return new GuaranteedCursor(this.#internals, region, after);
  }

  /**
   * Save `position` (a global sequence, at most the last one) as the
   * checkpoint of the named cursor. It is written as a system event, so it
   * survives reopen; like any append it is durable after the next sync
   * (`await store.durable()`). Saving the position a checkpoint already
   * holds writes nothing. Names are non-empty strings without control
   * characters, at most 1016 UTF-8 bytes.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Region, Store } from "@seed/batpak";
   * const dir = Deno.makeTempDirSync();
   * const store = Store.open(dir);
   * const kind = EventKind.custom(0x1, 1);
   * for (let i = 0; i < 3; i++) store.append(new Coordinate("job:1", "jobs"), kind, { i });
   * const cursor = store.cursorGuaranteed(Region.scope("jobs"));
   * cursor.pollBatch(2);
   * store.saveCursor("mailer", cursor.position);
   * store.close();
   *
   * const again = Store.open(dir);
   * const resumed = again.cursorGuaranteed(Region.scope("jobs"), {
   *   after: again.loadCursor("mailer") ?? 0,
   * });
   * console.log(resumed.poll()?.payload); // { i: 2 }
   * again.close();
   * ```
   */
  saveCursor(name: string, position: number): void {
    this.#assertOpen();
    saveCursor(this.#internals, name, position);
  }

  /**
   * The position last saved for the named cursor with
   * {@linkcode Store.saveCursor}, or `undefined` when none was saved.
   *
   * @example
   * ```ts
   * import { Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * console.log(store.loadCursor("never-saved")); // undefined
   * store.close();
   * ```
   */
  loadCursor(name: string): number | undefined {
    this.#assertOpen();
    return loadCursor(this.#internals, name);
  }

  /**
   * Live events of the region (see {@linkcode Store.query}): catches up from
   * the log after `options.after` (default 0), then delivers new events as
   * they are appended, with no gap and no duplicate at the boundary. A slow
   * consumer costs bounded memory: events wait in the log, not in a queue.
   * Each iteration is an independent subscriber. Ends, without an error, on
   * `options.signal` abort, on {@linkcode Store.close}, or when the loop
   * breaks.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Region, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const kind = EventKind.custom(0x1, 1);
   * const coord = new Coordinate("chat:1", "chat");
   * store.append(coord, kind, "hello");
   * setTimeout(() => store.append(coord, kind, "world"), 10);
   * const stop = new AbortController();
   * const seen: unknown[] = [];
   * for await (const event of store.subscribe(Region.scope("chat"), { signal: stop.signal })) {
   *   seen.push(event.payload);
   *   if (seen.length === 2) stop.abort();
   * }
   * console.log(seen); // [ "hello", "world" ]
   * store.close();
   * ```
   */
  subscribe(
    region: Region,
    options?: { after?: number; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent> {
    this.#assertOpen();
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `subscribe: region must be a Region, found ${describeValue(region)}`,
      );
    }
    return subscribe(this.#internals, region, options);
  }

  /**
   * Fold an entity's events (only `projection.kinds`, when given) into a
   * state, from `projection.initial()`. The state is cached per projection
   * object and entity: a later call applies only events appended since.
   * With `{ maybeStaleMs }` a cached state at most that old (by
   * `config.clock`) is returned as is. `undefined` when the entity has no
   * relevant events. The returned state is the cached one: treat it as
   * read-only (or have `apply` return new states).
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, type EventSourced, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const deposited = EventKind.custom(0x1, 1);
   * const coord = new Coordinate("account:1", "bank");
   * const balance: EventSourced<number> = {
   *   kinds: [deposited],
   *   initial: () => 0,
   *   apply: (sum, event) => sum + (event.payload as { amount: number }).amount,
   * };
   * store.append(coord, deposited, { amount: 10 });
   * console.log(store.project("account:1", balance)); // 10
   * store.append(coord, deposited, { amount: 5 });
   * console.log(store.project("account:1", balance)); // 15
   * console.log(store.project("account:2", balance)); // undefined
   * store.close();
   * ```
   */
  project<T>(
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness = "consistent",
  ): T | undefined {
    this.#assertOpen();
    return this.#projections.project(this.#internals, entity, projection, freshness);
  }

  /**
   * Write a consistent point-in-time copy of the store into `destDir`
   * (created; it must not exist or be empty): exactly the events visible
   * when called, fsynced, with an index image so it opens without a scan.
   * The copy is synchronous, so appends wait until it is done.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * store.append(new Coordinate("a", "s"), EventKind.custom(0x1, 1), 1);
   * const dest = Deno.makeTempDirSync();
   * store.snapshot(dest);
   * store.append(new Coordinate("a", "s"), EventKind.custom(0x1, 1), 2);
   * store.close();
   * const copy = Store.open(dest);
   * console.log(copy.stream("a").length, copy.verify().ok); // 1 true
   * copy.close();
   * ```
   */
  snapshot(destDir: string): void {
    this.#assertOpen();
    snapshotStore(this.#internals, destDir);
  }

  /**
   * Re-read every frame from disk and check CRCs, batch markers, event
   * hashes and the per-entity hash chain, the gapless global sequence, and
   * that the in-memory index matches the log. Problems are reported with
   * their file and byte offset, not thrown. `options.onProgress(checked,
   * total)` is called every 10,000 events and at the end.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * store.append(new Coordinate("a", "s"), EventKind.custom(0x1, 1), "x");
   * const report = store.verify();
   * console.log(report.ok, report.eventsChecked, report.problems); // true 1 []
   * store.close();
   * ```
   */
  verify(options?: { onProgress?: (checked: number, total: number) => void }): VerifyReport {
    this.#assertOpen();
    return verifyStore(this.#internals, options);
  }

  /** The ownership (lease and fence) handle of a scope. */
  ownership(scope: string): Ownership {
    this.#assertOpen();
    return new OwnershipImpl(this.#internals, scope);
  }

  /** How the index was restored, and the log's size. */
  diagnostics(): Diagnostics {
    return {
      openReport: { ...this.#openReport, rejectedSidecars: [...this.#openReport.rejectedSidecars] },
      segments: this.#segments.length,
      events: this.#index.count,
      entities: this.#index.entities.names.length,
    };
  }

  /** Flush, fsync, write the index image, release the directory lock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let error: unknown;
    const poisoned = this.#writer.poisoned;
    try {
      this.#writer.close();
      if (this.#s.enableMmapIndex && !poisoned && !this.#s.readOnly && this.#index.count > 0) {
        this.#writeSidecar("image");
      }
    } catch (e) {
      error = e;
    }
    this.#reader.close();
    for (const l of this.#listeners) l();
    this.#listeners.clear();
    this.#lock?.release();
    if (error !== undefined) throw error;
  }
}

/** UTF-8 takes at most this many bytes per UTF-16 code unit. */
const UTF8_BYTES_PER_CODE_UNIT_MAX = 3;

/**
 * Throw {@linkcode PayloadTooLargeError} when the event cannot fit a frame,
 * before its names are interned: a rejected append leaves no trace, not even
 * an entity name. Exact only near the limit, so the hot path stays arithmetic.
 */
function assertBodyFits(p: Prepared, hasPrevHash: boolean): void {
  const fixed = EVENT_HEADER_BYTES + (hasPrevHash ? HASH_BYTES : 0) +
    (p.correlation ? ID_BYTES : 0) + (p.causation ? ID_BYTES : 0) + HASH_BYTES +
    (p.keyBytes?.length ?? 0) + p.payload.length;
  const bound = fixed + UTF8_BYTES_PER_CODE_UNIT_MAX * (p.entity.length + p.scope.length);
  if (bound <= FRAME_BODY_BYTES_MAX) return;
  const exact = fixed + textEncoder.encode(p.entity).length + textEncoder.encode(p.scope).length;
  if (exact > FRAME_BODY_BYTES_MAX) throw new PayloadTooLargeError(exact, FRAME_BODY_BYTES_MAX);
}
