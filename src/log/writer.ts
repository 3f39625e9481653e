/**
 * The log writer: owns the active segment, encodes frames into a write
 * buffer, rotates segments, and runs group commit. Nothing above it builds
 * a frame: callers hand it an event's parts (or a batch of them) and get
 * back where each landed.
 *
 * Frames reach the OS when the buffer fills, at the end of the current task
 * (a queued microtask), or before any sync. Readers see buffered frames
 * through {@linkcode LogWriter.readBuffered}, so an appended event is
 * visible at once.
 *
 * Space is allocated before an event becomes visible: the active segment is
 * extended with synced zeros (a megabyte at a time) inside the append, so a
 * full disk fails that append with `StorageFullError` and changes nothing —
 * the store stays usable and the next append tries again. Later writes land
 * inside allocated space.
 *
 * Group commit: {@linkcode LogWriter.durable} callers that overlap share one
 * fdatasync; appends keep flowing while it runs, and callers who arrive
 * during a sync join the next one. A round with a single caller syncs on
 * the calling thread instead (no thread-pool round trip for a sequential
 * writer; see `#loneRound`).
 *
 * A failed write or sync of log data poisons the writer: the failing call
 * throws the storage error (`StorageFullError`, `IoError`), later writes
 * throw `WriterPoisonedError` (its `cause` is that error), reads keep
 * working, nothing acknowledged durable is touched, and reopening recovers.
 *
 * @module
 */

import {
  InternalError,
  IoError,
  PayloadTooLargeError,
  StorageFullError,
  StoreClosedError,
  StoreError,
  WriterPoisonedError,
} from "../core/errors.ts";
import { SEGMENT_FILE_BYTES_MAX } from "../core/limits.ts";
import { joinPath } from "../fs/path.ts";
import type { FileHandle, FileSystem } from "../fs/types.ts";
import { eventBodyLength2, EventHasher, type EventParts, writeEventBody2 } from "./event_codec.ts";
import {
  FLAG_IN_BATCH,
  FRAME_HEADER_BYTES,
  frameCrcAt,
  FrameKind,
  MARKER_FRAME_BYTES,
  sealFrame,
  writeMarker,
} from "./frame.ts";
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES, segmentName, TMP_SUFFIX } from "./segment.ts";

/** Default size of the write buffer, bytes. */
export const WRITE_BUFFER_BYTES = 256 * 1024;
/**
 * The active segment is extended with zeros this many bytes at a time. An
 * fdatasync that must also record a new file size costs about twice one
 * that only flushes data (measured here: ~280 vs ~150 µs for 12 KB), so
 * most syncs land inside already-allocated space. The zeros are synced when
 * written, so a crash can only tear frame data, never the allocation.
 * Recovery reads a zero frame header as the end of the log.
 */
export const PREALLOCATE_BYTES = 1024 * 1024;
const ZEROS = new Uint8Array(PREALLOCATE_BYTES);

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Longest run of lone `durable()` rounds answered without letting the event
 * loop turn, milliseconds (see `LogWriter.#loneRound`).
 */
export const LONE_SLICE_MS = 4;

/** A time slice of lone rounds: when it started, and the callers held for its end. */
interface LoneSlice {
  readonly start: number;
  readonly held: (() => void)[];
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A durable() caller may drop its promise; a rejection must not crash the process.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** A storage failure as the store's typed error (the port promises these; anything else is wrapped). */
export function storageError(e: unknown, op: string, path: string): StoreError {
  if (e instanceof StoreError) return e;
  return new IoError("io", op, path, (e as Error)?.message ?? String(e), { cause: e });
}

/** Writer settings. */
export interface WriterOptions {
  fs: FileSystem;
  dataDir: string;
  segmentMaxBytes: number;
  syncMode: "data" | "all";
}

/** Called when segment `segment - 1`, `sealedSize` bytes long, is sealed and `segment` created. */
export type RotateListener = (segment: number, sealedSize: number) => void;

/** Where an appended event landed. */
export interface EventWrite {
  segment: number;
  offset: number;
  length: number;
  /** CRC of the frame (sidecars name the last frame they cover by it). */
  crc: number;
  /** The event hash, a view into the write buffer: copy it before the next append. */
  hash: Uint8Array;
}

/** Where a batch landed: one entry per event, plus its COMMIT marker. */
export interface BatchWrite {
  segment: number;
  offsets: number[];
  lengths: number[];
  /** Event hashes, views into the write buffer: copy them before the next append. */
  hashes: Uint8Array[];
  /** CRC of each event frame. */
  crcs: number[];
  commitOffset: number;
  commitCrc: number;
}

/** The end of the log as readers see it (a writer, or a read-only follower). */
export interface LogEnd {
  /** Active (last) segment number. */
  readonly segment: number;
  /** Logical end of the active segment. */
  readonly size: number;
  /** Bytes of the active segment already in the file (the rest is buffered). */
  readonly flushed: number;
  /** Buffered bytes `[offset, offset+length)` of the active segment, or `undefined`. */
  readBuffered(segment: number, offset: number, length: number): Uint8Array | undefined;
}

/**
 * Create segment `n` durably: written as `NNNNNN.fbat.tmp` (header, sync),
 * renamed into place, directory synced — so no crash or full disk leaves a
 * named segment without its header. Returns the open handle. An error
 * thrown after the rename carries `created: true` (the caller must not
 * write to the previous segment any more).
 */
export function createSegment(fs: FileSystem, dataDir: string, n: number): FileHandle {
  const path = joinPath(dataDir, segmentName(n));
  const tmp = path + TMP_SUFFIX;
  fs.remove(tmp); // a leftover of an earlier failed attempt
  let h: FileHandle;
  try {
    h = fs.open(tmp, { read: true, write: true, createNew: true });
  } catch (e) {
    throw storageError(e, "create segment", tmp);
  }
  try {
    h.write(encodeSegmentHeader(n), 0);
    h.syncData();
    h.close();
    fs.rename(tmp, path);
  } catch (e) {
    try {
      h.close();
    } catch { /* already closed */ }
    try {
      fs.remove(tmp);
    } catch { /* best effort */ }
    throw storageError(e, "create segment", tmp);
  }
  try {
    fs.syncDir(dataDir);
    // Reopened by its final name, so every later error names the segment itself.
    return fs.open(path, { read: true, write: true });
  } catch (e) {
    throw Object.assign(storageError(e, "create segment", path), { created: true });
  }
}

/** Appends frames to the active segment. */
export class LogWriter implements LogEnd {
  readonly #opts: WriterOptions;
  #handle: FileHandle;
  /** Active segment number. */
  segment: number;
  /** Logical end of the active segment, including buffered bytes. */
  size: number;
  /** Bytes of the active segment handed to the OS. */
  flushed: number;
  /** Physical size of the active segment (logical end plus zeroed preallocation). */
  #allocated: number;
  #buf: Uint8Array = new Uint8Array(WRITE_BUFFER_BYTES);
  #bufLen = 0;
  #flushQueued = false;
  #poison: StoreError | undefined = undefined;
  #closed = false;
  /** Highest global sequence written into the log. */
  mark: number;
  /** Highest global sequence known durable. */
  durableMark: number;
  #inflight: Promise<void> | undefined;
  #inflightCover = 0;
  #next: Deferred | undefined;
  /** Callers of {@linkcode LogWriter.durable} waiting on `#next`. */
  #nextWaiters = 0;
  /** The current slice of lone rounds, until the event loop turns. */
  #slice: LoneSlice | undefined;
  #retired: FileHandle[] = [];
  #onRotate: RotateListener;
  /** Number of fsyncs issued (group commit evidence). */
  syncCount = 0;
  /**
   * Writes (and truncations) handed to the active segment's handle so far,
   * and how many of them a successful sync of that handle is known to cover:
   * equal means the segment holds nothing that is not durable (a close then
   * needs no fsync).
   */
  #writes = 0;
  #syncedWrites = 0;
  readonly #hasher = new EventHasher();
  /** Why the last rotation failed, while the writer keeps using the current segment. */
  rotationError: StoreError | undefined;

  /**
   * Take over `handle`, segment `segment` whose log ends at `size`, holding
   * every event up to global sequence `mark` (all durable).
   */
  constructor(
    opts: WriterOptions,
    segment: number,
    handle: FileHandle,
    size: number,
    mark: number,
    onRotate: RotateListener,
  ) {
    this.#opts = opts;
    this.segment = segment;
    this.#handle = handle;
    this.size = size;
    this.flushed = size;
    this.#allocated = handle.size();
    this.mark = mark;
    this.durableMark = mark;
    this.#onRotate = onRotate;
  }

  #path(): string {
    return joinPath(this.#opts.dataDir, segmentName(this.segment));
  }

  /** Throw unless the writer accepts writes. */
  assertWritable(): void {
    if (this.#closed) throw new StoreClosedError();
    if (this.#poison !== undefined) throw new WriterPoisonedError(this.#poison);
  }

  /** True when an I/O failure has poisoned the writer. */
  get poisoned(): boolean {
    return this.#poison !== undefined;
  }

  /** Record the failure that stops the writer and throw it (typed). */
  #fail(e: unknown, op: string): never {
    const error = storageError(e, op, this.#path());
    this.#poison ??= error;
    throw error;
  }

  /**
   * Make `bytes` more fit at the end of the log: rotate first when they
   * would push the active segment past `segmentMaxBytes` (a segment always
   * takes at least one frame or batch), then allocate the space. Throws,
   * changing nothing visible, when the space cannot be had.
   */
  #makeRoom(bytes: number): void {
    this.assertWritable();
    if (this.size > SEGMENT_HEADER_BYTES && this.size + bytes > this.#opts.segmentMaxBytes) {
      this.#rotate(bytes);
    }
    const end = this.size + bytes;
    if (end > SEGMENT_FILE_BYTES_MAX) {
      throw this.rotationError ??
        new PayloadTooLargeError(bytes, SEGMENT_FILE_BYTES_MAX - this.size);
    }
    if (end > this.#allocated) this.#allocate(end);
  }

  /**
   * Extend the active segment with synced zeros to hold at least `end`
   * bytes: a preallocation step, or — on a nearly full disk — just what
   * this append needs.
   */
  #allocate(end: number): void {
    // Grow to the next step, but not past the rotation size (small segments stay small).
    const step = Math.max(
      end,
      Math.min(this.#allocated + PREALLOCATE_BYTES, this.#opts.segmentMaxBytes),
    );
    let error = this.#tryAllocate(step);
    if (error instanceof StorageFullError && step > end) error = this.#tryAllocate(end);
    if (error === undefined) return;
    // Nothing of the log changed (only zeros past its end): a full disk fails this append
    // and leaves the writer usable; any other failure is a device to stop trusting.
    if (!(error instanceof StorageFullError)) this.#poison ??= error;
    throw error;
  }

  #tryAllocate(target: number): StoreError | undefined {
    try {
      for (let at = this.#allocated; at < target;) {
        const n = Math.min(PREALLOCATE_BYTES, target - at);
        this.#writes++;
        this.#handle.write(ZEROS.subarray(0, n), at);
        at += n;
      }
      // Make the new size durable now, so later syncs carry data only.
      const covered = this.#writes;
      this.#handle.syncData();
      this.#syncedWrites = covered;
    } catch (e) {
      return storageError(e, "allocate", this.#path());
    }
    this.#allocated = target;
    return undefined;
  }

  #rotate(bytes: number): void {
    try {
      this.flush();
      // A sealed segment ends at its last frame: cut the zeroed preallocation.
      if (this.#allocated > this.size) {
        this.#writes++;
        this.#handle.truncate(this.size);
      }
      this.#allocated = this.size;
      this.#syncHandle(this.#handle);
    } catch (e) {
      this.#fail(e, "seal segment");
    }
    this.durableMark = this.mark;
    const next = this.segment + 1;
    let h: FileHandle;
    try {
      h = createSegment(this.#opts.fs, this.#opts.dataDir, next);
    } catch (e) {
      const error = e as StoreError & { created?: boolean };
      // Once the new segment's name exists the old one is sealed for good: stop here.
      if (error.created) this.#fail(error, "create segment");
      // Not created: keep writing to the current segment (past segmentMaxBytes, within the
      // offset limit) and try again at the next append. Nothing is lost either way.
      this.rotationError = error;
      if (this.size + bytes <= SEGMENT_FILE_BYTES_MAX) return;
      throw error;
    }
    this.rotationError = undefined;
    if (this.#inflight) this.#retired.push(this.#handle);
    else {
      try {
        this.#handle.close();
      } catch { /* the data is synced; a failed close loses nothing */ }
    }
    const sealedSize = this.size;
    this.#handle = h;
    // createSegment made the new segment (its header) durable.
    this.#writes = this.#syncedWrites = 0;
    this.segment = next;
    this.size = SEGMENT_HEADER_BYTES;
    this.flushed = SEGMENT_HEADER_BYTES;
    this.#allocated = SEGMENT_HEADER_BYTES;
    this.#onRotate(next, sealedSize);
  }

  /**
   * Seal the active segment now (when it holds any frame) and continue in a
   * new one, so that everything written so far is in sealed segments
   * (compaction rewrites only those). Throws when the new segment cannot be
   * created.
   */
  seal(): void {
    this.assertWritable();
    if (this.size === SEGMENT_HEADER_BYTES) return;
    const before = this.segment;
    this.#rotate(0);
    if (this.segment === before) throw this.rotationError!;
  }

  /** Room for `bytes` in the write buffer; returns the index to write at. */
  #reserve(bytes: number): number {
    if (this.#bufLen + bytes > this.#buf.length) {
      this.flush();
      if (bytes > this.#buf.length) this.#buf = new Uint8Array(bytes);
    }
    return this.#bufLen;
  }

  /** Account `bytes` written at the end of the buffer. */
  #commit(bytes: number, mark: number): void {
    this.#bufLen += bytes;
    this.size += bytes;
    if (mark > this.mark) this.mark = mark;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        if (this.#closed || this.#poison !== undefined) return;
        try {
          this.flush();
        } catch {
          // Poisoned; the next append reports it.
        }
      });
    }
  }

  /**
   * Append one event frame. Throws (writing nothing) when the space cannot
   * be had or the writer is poisoned.
   */
  appendEvent(parts: EventParts): EventWrite {
    const bodyLength = eventBodyLength2(parts);
    const length = FRAME_HEADER_BYTES + bodyLength;
    this.#makeRoom(length);
    const offset = this.size;
    const at = this.#reserve(length);
    const buf = this.#buf;
    const hashAt = writeEventBody2(buf, at + FRAME_HEADER_BYTES, parts, this.#hasher);
    sealFrame(buf, at, bodyLength, FrameKind.Event2, 0);
    const crc = frameCrcAt(buf, at);
    this.#commit(length, parts.globalSequence);
    return { segment: this.segment, offset, length, crc, hash: buf.subarray(hashAt, hashAt + 32) };
  }

  /**
   * Append a batch: BEGIN, the event frames, COMMIT, one fsync — durable
   * before this returns. `prevItem[k]` is the index of an earlier item whose
   * hash is item k's `prevHash` (its entity's previous event in the batch),
   * or -1 to keep `parts[k].prevHash`. Throws, with nothing of the batch
   * visible, when anything fails (a failed write or sync poisons the writer).
   */
  appendBatch(parts: EventParts[], prevItem: ArrayLike<number>): BatchWrite {
    const n = parts.length;
    const lengths: number[] = new Array(n);
    let total = 2 * MARKER_FRAME_BYTES;
    for (let k = 0; k < n; k++) {
      lengths[k] = FRAME_HEADER_BYTES + eventBodyLength2(parts[k]);
      total += lengths[k];
    }
    this.#makeRoom(total);
    const firstG = parts[0].globalSequence;
    const lastG = parts[n - 1].globalSequence;
    if (lastG - firstG + 1 !== n) {
      throw new InternalError("batch global sequences are not contiguous");
    }
    const segment = this.segment;
    let offset = this.size;
    let w = this.#reserve(total);
    const buf = this.#buf;
    writeMarker(buf, w, FrameKind.BatchBegin, n, firstG);
    w += MARKER_FRAME_BYTES;
    offset += MARKER_FRAME_BYTES;
    const offsets: number[] = new Array(n);
    const hashes: Uint8Array[] = new Array(n);
    const crcs: number[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const p = parts[k];
      const prior = prevItem[k];
      if (prior >= 0) {
        if (prior >= k) throw new InternalError("a batch item links to a later item");
        p.prevHash = hashes[prior];
      }
      const hashAt = writeEventBody2(buf, w + FRAME_HEADER_BYTES, p, this.#hasher);
      sealFrame(buf, w, lengths[k] - FRAME_HEADER_BYTES, FrameKind.Event2, FLAG_IN_BATCH);
      crcs[k] = frameCrcAt(buf, w);
      hashes[k] = buf.subarray(hashAt, hashAt + 32);
      offsets[k] = offset;
      offset += lengths[k];
      w += lengths[k];
    }
    const commitOffset = offset;
    const commitCrc = writeMarker(buf, w, FrameKind.BatchCommit, n, firstG);
    this.#commit(total, lastG);
    this.syncNow(); // durable before visible
    return { segment, offsets, lengths, hashes, crcs, commitOffset, commitCrc };
  }

  /** Hand buffered bytes to the OS. */
  flush(): void {
    if (this.#bufLen === 0) return;
    this.assertWritable();
    if (this.flushed + this.#bufLen > this.#allocated) {
      throw new InternalError("the write buffer runs past the allocated segment");
    }
    try {
      this.#writes++;
      this.#handle.write(this.#buf.subarray(0, this.#bufLen), this.flushed);
    } catch (e) {
      this.#fail(e, "write");
    }
    this.flushed += this.#bufLen;
    this.#bufLen = 0;
    if (this.#buf.length > WRITE_BUFFER_BYTES) this.#buf = new Uint8Array(WRITE_BUFFER_BYTES);
  }

  /** Bytes of the active segment still in the write buffer, or `undefined` when not buffered. */
  readBuffered(segment: number, offset: number, length: number): Uint8Array | undefined {
    if (segment !== this.segment || offset < this.flushed) return undefined;
    const at = offset - this.flushed;
    if (at + length > this.#bufLen) return undefined;
    return this.#buf.slice(at, at + length);
  }

  #syncHandle(h: FileHandle): void {
    this.syncCount++;
    const covered = this.#writes;
    if (this.#opts.syncMode === "all") h.sync();
    else h.syncData();
    if (h === this.#handle && covered > this.#syncedWrites) this.#syncedWrites = covered;
  }

  /** Flush and fsync now, blocking. */
  syncNow(): void {
    this.assertWritable();
    this.flush();
    try {
      this.#syncHandle(this.#handle);
    } catch (e) {
      this.#fail(e, "sync");
    }
    this.durableMark = this.mark;
  }

  /** Resolves once everything written so far is durable; overlapping callers share a sync. */
  durable(): Promise<void> {
    try {
      this.assertWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    const target = this.mark;
    if (target <= this.durableMark) return Promise.resolve();
    if (this.#inflight && target <= this.#inflightCover) return this.#inflight;
    this.#nextWaiters++;
    if (!this.#next) {
      this.#next = deferred();
      // Start on a microtask: every caller of the same synchronous burst (say, a
      // Promise.all of writers) joins this round instead of waiting for the next.
      if (!this.#inflight) queueMicrotask(() => this.#launchNext());
    }
    return this.#next.promise;
  }

  /** Start the round the waiting callers joined, unless one is still in flight. */
  #launchNext(): void {
    if (this.#inflight) return; // #finishRound launches it
    const next = this.#next;
    const waiters = this.#nextWaiters;
    this.#next = undefined;
    this.#nextWaiters = 0;
    if (!next) return;
    if (this.mark <= this.durableMark) next.resolve();
    else if (this.#closed || this.#poison !== undefined) {
      try {
        this.assertWritable();
      } catch (e) {
        next.reject(e);
      }
    } else if (waiters === 1) this.#loneRound(next);
    else this.#startRound().then(next.resolve, next.reject);
  }

  /**
   * A round with one caller and none in flight syncs on this thread: an
   * async sync costs a thread-pool round trip (measured here: ~35 µs on top
   * of an ~80 µs fdatasync) that a sequential writer would pay on every
   * append, and with no other caller waiting there is nobody for appends
   * flowing during the sync to help. Two or more callers sync off-thread, so
   * their appends keep flowing.
   *
   * Answered from a microtask, a loop of `append` + `await durable()` would
   * never let the event loop turn (timers, I/O, a stdin that says stop). So
   * lone rounds run in time slices: the first of a slice sets a zero-delay
   * timer, which fires at the event loop's next turn and ends the slice;
   * rounds within {@linkcode LONE_SLICE_MS} of the slice's start are
   * answered at once, later ones when the timer fires. A writer whose
   * rounds are spaced out never waits; a tight loop yields once per slice.
   * (A `MessageChannel` message as the marker measured as slow as the async
   * sync here: ~150 µs per round against ~90 µs with the timer.)
   */
  #loneRound(next: Deferred): void {
    let failure: { error: unknown } | undefined;
    try {
      this.syncNow();
    } catch (e) {
      failure = { error: e };
    }
    let slice = this.#slice;
    if (slice === undefined) {
      const opened: LoneSlice = { start: performance.now(), held: [] };
      slice = this.#slice = opened;
      setTimeout(() => {
        if (this.#slice === opened) this.#slice = undefined;
        for (const settle of opened.held) settle();
      }, 0);
    }
    const settle = failure === undefined ? next.resolve : () => next.reject(failure.error);
    if (performance.now() - slice.start < LONE_SLICE_MS) settle();
    else slice.held.push(settle);
  }

  #startRound(): Promise<void> {
    try {
      this.flush();
    } catch (e) {
      return Promise.reject(e);
    }
    const cover = this.mark;
    const h = this.#handle;
    const covered = this.#writes;
    const path = this.#path();
    this.syncCount++;
    const sync = this.#opts.syncMode === "all" ? h.syncAsync() : h.syncDataAsync();
    const round = sync.then(
      () => {
        if (cover > this.durableMark) this.durableMark = cover;
        if (h === this.#handle && covered > this.#syncedWrites) this.#syncedWrites = covered;
        this.#finishRound();
      },
      (e) => {
        // A close() that synced everything covers us even if our fd went away.
        if (this.#closed && cover <= this.durableMark) {
          this.#finishRound();
          return;
        }
        const error = storageError(e, "sync", path);
        this.#poison ??= error;
        this.#finishRound();
        throw error;
      },
    );
    round.catch(() => {});
    this.#inflight = round;
    this.#inflightCover = cover;
    return round;
  }

  #finishRound(): void {
    this.#inflight = undefined;
    for (const h of this.#retired) {
      try {
        h.close();
      } catch { /* already gone */ }
    }
    this.#retired = [];
    this.#launchNext();
  }

  /**
   * Flush, sync, cut the preallocation and close. Safe to call twice.
   * Throws the first storage failure (typed) after releasing every handle.
   */
  close(): void {
    if (this.#closed) return;
    let error: StoreError | undefined;
    if (this.#poison === undefined) {
      try {
        // Nothing written since the last sync that covered it (a session that only read, or
        // synced its last append): no fsync to make.
        if (this.#bufLen > 0 || this.#writes !== this.#syncedWrites) this.syncNow();
        // A closed store keeps no preallocation: its files end at their last frame.
        if (this.#allocated > this.size) {
          this.#handle.truncate(this.size);
          this.#handle.syncData();
          this.#allocated = this.size;
        }
      } catch (e) {
        error = storageError(e, "close", this.#path());
      }
    }
    this.#closed = true;
    for (const h of [...this.#retired, this.#handle]) {
      try {
        h.close();
      } catch { /* best effort */ }
    }
    this.#retired = [];
    if (this.#next) {
      const next = this.#next;
      this.#next = undefined;
      if (this.mark <= this.durableMark) next.resolve();
      else next.reject(new StoreClosedError("store closed before the sync completed"));
    }
    if (error !== undefined) throw error;
  }
}
