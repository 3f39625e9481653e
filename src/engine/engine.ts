/**
 * The engine: the in-memory state of an open store and the few operations
 * every layer above shares.
 *
 * - {@linkcode Engine.apply}: the ONE way an event enters memory (index row,
 *   entity hash, idempotency key, system state), used by the recovery scan,
 *   the follower and live appends alike, with the invariants checked there.
 * - The sync policy (every `sync.everyNEvents` appends) and the checkpoint
 *   policy, the notifier that wakes readers, and the one reading of the
 *   clock.
 *
 * Opening (choosing the restore path) is in `./open.ts`; following another
 * process's log in `./tail.ts`.
 *
 * @module
 */

import { readClock } from "../core/clock.ts";
import { InternalError, ReadOnlyError, StoreClosedError, StoreError } from "../core/errors.ts";
import { HASH_BYTES } from "../core/hash.ts";
import { IdGenerator } from "../core/ids.ts";
import { CHECKPOINT_EVERY_EVENTS_MIN } from "../core/limits.ts";
import { PayloadDecoder, PayloadEncoder } from "../core/payload.ts";
import { SystemState } from "../core/system.ts";
import type { OpenReport } from "../core/types.ts";
import type { DirLock, FileSystem } from "../fs/types.ts";
import { Index } from "../index/index.ts";
import { readEventFrame } from "../log/frames.ts";
import { joinPath } from "../fs/path.ts";
import {
  type Coverage,
  IMAGE_FILE,
  saveSidecar,
  type SealedSegment,
  type SidecarKind,
} from "../index/sidecar.ts";
import { SegmentReader } from "../log/reader.ts";
import type { LogEnd, LogWriter } from "../log/writer.ts";
import type { IdWords } from "../core/ids.ts";
import type { CursorStore } from "./cursors.ts";
import { NameBytes } from "./names.ts";
import type { Settings } from "./settings.ts";

/** Where the last frame the index covers sits (sidecars name it by CRC). */
export interface LastFrame {
  segment: number;
  offset: number;
  crc: number;
}

const HASH_SLAB_BYTES = 64 * 1024;

/** The state of one open store. */
export class Engine {
  readonly settings: Settings;
  readonly fs: FileSystem;
  readonly dataDir: string;
  /** The columnar index of every event. */
  index: Index = new Index();
  /** State derived from system events (fences, legacy cursor checkpoints). */
  system: SystemState = new SystemState();
  readonly entityNames: NameBytes;
  readonly scopeNames: NameBytes;
  readonly reader: SegmentReader;
  readonly ids: IdGenerator;
  /** This store's payload codec (its scratch buffers are its own). */
  readonly encoder: PayloadEncoder = new PayloadEncoder();
  readonly decoder: PayloadDecoder = new PayloadDecoder();
  cursors!: CursorStore;
  /** Segment numbers, ascending. */
  segments: number[] = [];
  /** The writer (undefined for a read-only store). */
  writer: LogWriter | undefined;
  /** The end of the log readers see. */
  end!: LogEnd;
  lastFrame: LastFrame = { segment: 0, offset: 0, crc: 0 };
  openReport!: OpenReport;
  closed = false;
  readonly #lock: DirLock | undefined;
  readonly #listeners = new Set<() => void>();
  #sinceSync = 0;
  #checkpointedCount = 0;
  #hashSlab = new Uint8Array(HASH_SLAB_BYTES);
  #hashSlabAt = 0;
  /**
   * What the index image on disk holds, while it holds exactly this index
   * (its event count and the log position it covers): a close then has
   * nothing new to write. Undefined when unknown or stale.
   */
  #imageOnDisk: { count: number; coverage: Coverage; idTableBuilds: number } | undefined;

  constructor(settings: Settings, lock: DirLock | undefined) {
    this.settings = settings;
    this.fs = settings.fs;
    this.dataDir = settings.dataDir;
    this.#lock = lock;
    this.entityNames = new NameBytes(() => this.index.entities);
    this.scopeNames = new NameBytes(() => this.index.scopes);
    this.reader = new SegmentReader(settings.fs, settings.dataDir, settings.fdBudget);
    this.ids = new IdGenerator(settings.random);
  }

  /** The store's clock, checked (one place for every caller). */
  now(): number {
    return readClock(this.settings.clock);
  }

  /** Throw unless the store is open. */
  assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  /** The writer, when the store is open, writable and not poisoned. */
  requireWriter(): LogWriter {
    this.assertOpen();
    const w = this.writer;
    if (w === undefined) throw new ReadOnlyError();
    w.assertWritable();
    return w;
  }

  /** Replace the in-memory state (restoring from a sidecar, or starting over). */
  adopt(index: Index, system: SystemState): void {
    if (index !== this.index) this.index.release();
    this.index = index;
    index.listEnd = (entity, g, length) => this.#listEndProblem(entity, g, length);
    this.system = system;
    this.entityNames.reset();
    this.scopeNames.reset();
  }

  /** `Index.listEnd`: the frame of `g` read back from the log. */
  #listEndProblem(entity: number, g: number, length: number): string | undefined {
    const loc = this.index.location(g);
    const buf = this.reader.readFrameBytes(loc.segment, loc.offset, loc.length);
    const h = readEventFrame(buf, 0, loc.length);
    // A damaged frame is the log's, not the image's: it says nothing of the list, and the read
    // that reaches it fails closed there (the events before it are still served).
    if (typeof h === "string") return undefined;
    if (h.sequence !== length) {
      return `a posting list of ${length} events ends at its entity's event ${h.sequence}`;
    }
    if (!this.index.entityHashEquals(entity, buf, h.hashAt)) {
      return "a posting list does not end at its entity's last event";
    }
    return undefined;
  }

  /**
   * Add one event to memory: its index row, its entity's last hash
   * (`hash[hashAt ..]`), its idempotency key, and, for a system event, its
   * decoded payload to the system state. Replay, the follower and live
   * appends all come through here. The caller has checked the event
   * against the log (replay) or built it from the index (appends); this
   * asserts the invariants again, so the two can never drift apart.
   */
  apply(
    segment: number,
    offset: number,
    length: number,
    entityId: number,
    scopeId: number,
    sequence: number,
    kind: number,
    timestampMs: number,
    id: IdWords,
    hash: Uint8Array,
    hashAt: number,
    key: string | null,
    systemPayload: unknown,
  ): void {
    const index = this.index;
    if (sequence !== index.lastSequence(entityId) + 1) {
      throw new InternalError(
        `entity ${entityId} gets sequence ${sequence} after ${index.lastSequence(entityId)}`,
      );
    }
    index.add(segment, offset, length, entityId, scopeId, kind, timestampMs, id);
    index.setEntityHash(entityId, hash, hashAt);
    if (key !== null) index.keys.set(key, index.count);
    if (systemPayload !== undefined) {
      this.system.apply(kind, index.scopes.names[scopeId], systemPayload);
    }
  }

  /** A stable copy of a 32-byte hash, carved from a slab (no ArrayBuffer per event). */
  keepHash(src: Uint8Array, at = 0): Uint8Array {
    if (this.#hashSlabAt + HASH_BYTES > HASH_SLAB_BYTES) {
      this.#hashSlab = new Uint8Array(HASH_SLAB_BYTES);
      this.#hashSlabAt = 0;
    }
    const out = this.#hashSlab.subarray(this.#hashSlabAt, this.#hashSlabAt + HASH_BYTES);
    out.set(src.subarray(at, at + HASH_BYTES));
    this.#hashSlabAt += HASH_BYTES;
    return out;
  }

  /** Register a listener woken after every append (or refresh that found events). */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Wake every listener. */
  notify(): void {
    for (const l of this.#listeners) l();
  }

  /**
   * The sync policy: count `count` appended events; true when the cadence
   * (`sync.everyNEvents`) is due, so this append must block on an fsync
   * before it returns (like batpak's writer thread: the Nth append returns
   * durable).
   */
  syncDue(count: number): boolean {
    this.#sinceSync += count;
    return this.#sinceSync >= this.settings.everyNEvents;
  }

  /** After a batch (already synced): reset the cadence, maybe checkpoint. */
  afterBatch(): void {
    this.#sinceSync = 0;
    this.cursors.sync();
    this.maybeCheckpoint();
  }

  /** Fsync the log, then the cursor positions (never durable ahead of the events). */
  sync(): void {
    this.requireWriter().syncNow();
    this.#sinceSync = 0;
    this.cursors.sync();
  }

  /** Resolves once everything appended (and every cursor saved) so far is durable. */
  async durable(): Promise<void> {
    this.assertOpen();
    const w = this.requireWriter();
    await w.durable();
    this.cursors.sync();
  }

  /** Written, at the latest, once a quarter of the log is new since the last one. */
  maybeCheckpoint(): void {
    if (!this.settings.enableCheckpoint || this.writer === undefined) return;
    const since = this.index.count - this.#checkpointedCount;
    if (since < CHECKPOINT_EVERY_EVENTS_MIN || since * 4 < this.index.count) return;
    // Only durable bytes may be covered: a sidecar must never vouch for data a crash can lose.
    this.writer.syncNow();
    this.writeSidecar("checkpoint");
  }

  /** The restored sidecar already covers `count` events: the next checkpoint is due after new ones. */
  set checkpointedCount(count: number) {
    this.#checkpointedCount = count;
  }

  /** The log position the index covers now (everything the writer has, which must be durable). */
  coverage(): Coverage {
    return {
      segment: this.end.segment,
      endOffset: this.end.size,
      lastFrameSegment: this.lastFrame.segment,
      lastFrameOffset: this.lastFrame.offset,
      lastFrameCrc: this.lastFrame.crc,
    };
  }

  /**
   * The image on disk holds `count` events and covers the log to `coverage`
   * (by default: this index as it is now, just written). Call
   * {@linkcode forgetImageOnDisk} when that stops being true other than by an append
   * (an append changes the event count and coverage, which close compares).
   */
  recordImageOnDisk(count: number = this.index.count, coverage: Coverage = this.coverage()): void {
    this.#imageOnDisk = { count, coverage, idTableBuilds: this.index.idTableBuilds };
  }

  /** The image on disk no longer holds this index (removed, or the rows it holds changed). */
  forgetImageOnDisk(): void {
    this.#imageOnDisk = undefined;
  }

  /** True when the image on disk holds this index as it is: same events, same log position. */
  #imageOnDiskIsCurrent(): boolean {
    const on = this.#imageOnDisk;
    if (on === undefined || on.count !== this.index.count) return false;
    // A part of it failed its checks when read: it is not kept (see writeSidecar).
    if (this.index.damaged !== undefined) return false;
    // The id table read from it was found wanting and rebuilt: the file holds the old one.
    if (on.idTableBuilds !== this.index.idTableBuilds) return false;
    const now = this.coverage();
    const was = on.coverage;
    return was.segment === now.segment && was.endOffset === now.endOffset &&
      was.lastFrameSegment === now.lastFrameSegment &&
      was.lastFrameOffset === now.lastFrameOffset && was.lastFrameCrc === now.lastFrameCrc &&
      // Removed by hand while open: write it again.
      this.fs.stat(joinPath(this.dataDir, IMAGE_FILE)) !== undefined;
  }

  /** Write a sidecar covering the log as it is (best effort: the log is the truth). */
  writeSidecar(kind: SidecarKind): void {
    if (kind === "image") this.forgetImageOnDisk(); // replaced, or gone if the write fails midway
    try {
      saveSidecar(
        this.fs,
        this.dataDir,
        kind,
        this.index,
        this.coverage(),
        this.system.toPlain(),
        this.#segmentTable(),
      );
      if (kind === "image") this.recordImageOnDisk();
    } catch {
      // A sidecar only speeds up the next open. A full or failing disk must not fail the
      // append or close that triggered it: the next open takes a slower path (the leftover
      // .tmp is removed then), and the next checkpoint is tried a full interval later.
      if (this.index.damaged !== undefined) {
        // The image this index was read from failed a check, so the new one could not be
        // written whole: the damaged one must not be taken by the next open either.
        try {
          this.index.release();
          this.fs.remove(joinPath(this.dataDir, IMAGE_FILE));
        } catch {
          // The next open finds the damage again, where it reads it.
        }
      }
    }
    if (kind === "checkpoint") this.#checkpointedCount = this.index.count;
  }

  /**
   * Size and last frame of every sealed segment, for the sidecar: an open
   * that restores from it checks each sealed segment against this (a
   * truncated, replaced or swapped segment fails closed at open).
   */
  #segmentTable(): SealedSegment[] {
    const table = this.sealedSegments;
    return this.segments.filter((n) => n !== this.end.segment).map((n) =>
      table.get(n) ?? { size: 0, lastFrameOffset: 0, lastFrameCrc: 0 }
    );
  }

  /** Per sealed segment: its size and the offset and CRC of its last frame. */
  readonly sealedSegments: Map<number, SealedSegment> = new Map();

  /** Record that segment `n` is sealed: `size` bytes, last frame at `lastFrameOffset`. */
  sealed(n: number, size: number, lastFrameOffset: number, lastFrameCrc: number): void {
    this.sealedSegments.set(n, { size, lastFrameOffset, lastFrameCrc });
  }

  /**
   * Flush, fsync, write the index image, release the lock. Every resource
   * is released even when a step fails; the first failure is thrown.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let error: unknown;
    const w = this.writer;
    try {
      if (w !== undefined) {
        const poisoned = w.poisoned;
        w.close();
        this.cursors.close();
        // A session that appended nothing (and compacted nothing) since the image was read or
        // written leaves it as it is: rewriting it would write the same bytes (the whole index,
        // ~60 MB at 1M events) and two fsyncs.
        if (
          this.settings.enableMmapIndex && !poisoned && this.index.count > 0 &&
          !this.#imageOnDiskIsCurrent()
        ) {
          this.writeSidecar("image");
        }
      } else this.cursors.close();
    } catch (e) {
      error = e;
    }
    this.index.release();
    this.reader.close();
    this.notify(); // waiting subscribers see the close and end
    this.#listeners.clear();
    this.#lock?.release();
    if (error !== undefined) {
      throw error instanceof StoreError ? error : new InternalError(String(error));
    }
  }
}
