/**
 * Reads frames by position through read handles kept in an LRU bounded by
 * `fdBudget`; frames still in the write buffer are served from it. Single
 * frames read by {@linkcode SegmentReader.readFrameBytes} (point reads: `get`
 * and the predecessor whose hash it needs) are kept in a small cache of their
 * own, so reading a recent event again makes no system call.
 *
 * @module
 */

import { joinPath } from "../fs/path.ts";
import type { FileHandle, FileSystem } from "../fs/types.ts";
import { CorruptSegmentError, IoError, StoreError } from "../core/errors.ts";
import { FRAME_BODY_BYTES_MAX, FRAME_HEADER_BYTES, parseFrame } from "./frame.ts";
import { segmentName } from "./segment.ts";
import type { LogEnd } from "./writer.ts";

/** Positional frame reader with a bounded handle cache. */
export class SegmentReader {
  readonly #fs: FileSystem;
  readonly #dataDir: string;
  readonly #budget: number;
  // Map iteration order is insertion order: re-inserting on use makes it an LRU.
  readonly #handles = new Map<number, FileHandle>();
  #end: LogEnd | undefined;
  /** Handles opened so far (eviction evidence for tests). */
  opens = 0;
  /**
   * Point-read frames. A frame's bytes never change in place once the index
   * has it (the log only grows; compaction writes new files and calls
   * {@linkcode SegmentReader.forget}), so an entry is the file's bytes.
   */
  readonly #frames = new FrameCache();

  /** Point reads answered from the frame cache (tests). */
  get frameHits(): number {
    return this.#frames.hits;
  }

  constructor(fs: FileSystem, dataDir: string, fdBudget: number) {
    this.#fs = fs;
    this.#dataDir = dataDir;
    this.#budget = fdBudget;
  }

  /** Attach the end of the log (the writer, whose buffer holds the newest frames). */
  attach(end: LogEnd): void {
    this.#end = end;
  }

  /** Open read handles right now. */
  get openHandles(): number {
    return this.#handles.size;
  }

  #handle(segment: number): FileHandle {
    let h = this.#handles.get(segment);
    if (h) {
      this.#handles.delete(segment);
      this.#handles.set(segment, h);
      return h;
    }
    while (this.#handles.size >= this.#budget) {
      const [oldest, old] = this.#handles.entries().next().value!;
      this.#handles.delete(oldest);
      old.close();
    }
    try {
      h = this.#fs.open(joinPath(this.#dataDir, segmentName(segment)), { read: true });
    } catch (e) {
      // The index (perhaps from a sidecar) names a segment that is not there.
      if (!(e instanceof IoError && e.kind === "not_found")) throw ioError(segment, 0, e);
      throw new CorruptSegmentError(segmentName(segment), 0, "the segment file is missing");
    }
    this.opens++;
    this.#handles.set(segment, h);
    return h;
  }

  /** The raw bytes of the frame at `segment`/`offset`, `length` bytes long. */
  readRaw(segment: number, offset: number, length: number): Uint8Array {
    return this.#end?.readBuffered(segment, offset, length) ??
      this.#readFile(segment, offset, length);
  }

  /** {@linkcode SegmentReader.readRaw} from the file (not the write buffer). */
  #readFile(segment: number, offset: number, length: number): Uint8Array {
    // The length comes from the index, which a sidecar restored: never allocate what a damaged
    // or forged sidecar declares (up to 4 GiB) beyond the largest frame there can be.
    if (length > FRAME_HEADER_BYTES + FRAME_BODY_BYTES_MAX) {
      throw new CorruptSegmentError(
        segmentName(segment),
        offset,
        `the index says the frame is ${length} bytes, more than the largest frame`,
      );
    }
    const buf = new Uint8Array(length);
    const h = this.#handle(segment);
    let got = 0;
    while (got < length) {
      let n: number;
      try {
        n = h.read(got === 0 ? buf : buf.subarray(got), offset + got);
      } catch (e) {
        throw ioError(segment, offset, e);
      }
      if (n <= 0) break;
      got += n;
    }
    if (got < length) {
      throw new CorruptSegmentError(
        segmentName(segment),
        offset,
        `frame of ${length} bytes ends past the end of the file (read ${got})`,
      );
    }
    return buf;
  }

  /**
   * The bytes of the single frame at `segment`/`offset`, as
   * {@linkcode SegmentReader.readRaw}, kept for the next read of the same
   * frame (frames of at most {@linkcode FRAME_CACHE_FRAME_BYTES_MAX} bytes,
   * {@linkcode FRAME_CACHE_BYTES} in all, oldest out first). The caller must
   * not change the bytes: they may be handed out again.
   */
  readFrameBytes(segment: number, offset: number, length: number): Uint8Array {
    const cached = this.#frames.get(segment, offset, length);
    if (cached !== undefined) return cached;
    const buffered = this.#end?.readBuffered(segment, offset, length);
    if (buffered) return buffered; // the newest frames: not kept (the buffer serves them)
    return this.#frames.admit(segment, offset, this.#readFile(segment, offset, length));
  }

  /** Read and CRC-check the frame; returns the buffer (frame at index 0). */
  readFrame(segment: number, offset: number, length: number): Uint8Array {
    const buf = this.readRaw(segment, offset, length);
    const frame = parseFrame(buf, 0);
    if (typeof frame === "string" || frame.frameLength !== length) {
      throw new CorruptSegmentError(
        segmentName(segment),
        offset,
        typeof frame === "string" ? `frame check failed: ${frame}` : "frame length changed",
      );
    }
    return buf;
  }

  /** Drop the cached handle of a segment (after it was rewritten or removed). */
  forget(segment: number): void {
    this.#frames.dropSegment(segment);
    const h = this.#handles.get(segment);
    if (h) {
      this.#handles.delete(segment);
      h.close();
    }
  }

  /** Close every handle. */
  close(): void {
    for (const h of this.#handles.values()) {
      try {
        h.close();
      } catch { /* best effort */ }
    }
    this.#handles.clear();
    this.#frames.clear();
  }
}

/**
 * Bytes of point-read frames kept by the frame cache (two generations of
 * half each): ~6K–12K frames of a 12-byte payload.
 */
export const FRAME_CACHE_BYTES = 1 << 20;
/** Largest frame the cache keeps, bytes. */
export const FRAME_CACHE_FRAME_BYTES_MAX = 4096;
const GENERATION_BYTES = FRAME_CACHE_BYTES / 2;
const SLOT_BITS = 14;

/**
 * Point-read frames, bounded by {@linkcode FRAME_CACHE_BYTES}: a
 * direct-mapped table of 2^14 slots (a frame whose slot another takes is
 * only a miss) over two generations of bytes, each one slab the frames are
 * copied into back to back. When the current slab is full the older is
 * dropped whole and a fresh one starts (a hit in the older is copied
 * forward); a slab is never written over once handed out, so a frame given
 * to a caller stays as it was. Typed arrays and two slabs, not a `Map` of
 * arrays: thousands of live small `ArrayBuffer`s and a `Map`'s number keys
 * made random gets over a large store slower than with no cache (an LRU
 * `Map`, deleting its first entry, 3.7× slower). Allocated at the first
 * point read.
 */
class FrameCache {
  #seg = new Uint32Array(0);
  #off = new Uint32Array(0);
  #at = new Uint32Array(0);
  #len = new Uint16Array(0);
  /** The generation a slot's frame is in (0: empty). */
  #genOf = new Uint32Array(0);
  #gen = 1;
  #slabs: Uint8Array[] = [];
  #w = 0;
  /**
   * The doorkeeper: one bit per (hashed) frame missed once since it was last
   * cleared. A frame is kept at its second miss, so reads that never come
   * back (random gets over a large store) copy nothing and allocate no slab.
   */
  #seen = new Uint32Array(1 << (SLOT_BITS + 2 - 5));
  #seenCount = 0;
  hits = 0;

  #slot(segment: number, offset: number): number {
    return (Math.imul(offset, 0x9e3779b1) ^ Math.imul(segment, 0x85ebca77)) >>> (32 - SLOT_BITS);
  }

  get(segment: number, offset: number, length: number): Uint8Array | undefined {
    if (this.#slabs.length === 0) return undefined;
    const slot = this.#slot(segment, offset);
    const gen = this.#genOf[slot];
    if (
      gen === 0 || this.#off[slot] !== offset || this.#seg[slot] !== segment ||
      this.#len[slot] !== length || gen + 1 < this.#gen
    ) return undefined;
    this.hits++;
    const at = this.#at[slot];
    const bytes = this.#slabs[gen & 1].subarray(at, at + length);
    return gen === this.#gen ? bytes : this.put(segment, offset, bytes);
  }

  /**
   * A frame just read: keep a copy when it was missed before (see
   * `#seen`); returns the copy, or `bytes` when not kept.
   */
  admit(segment: number, offset: number, bytes: Uint8Array): Uint8Array {
    if (bytes.length > FRAME_CACHE_FRAME_BYTES_MAX) return bytes;
    const bit = (Math.imul(offset ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(segment, 0x165667b1)) >>>
      (32 - (SLOT_BITS + 2));
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    if ((this.#seen[word] & mask) === 0) {
      this.#seen[word] |= mask;
      // Forget the doorkeeper's bits once a quarter of them could be set: old misses fade.
      if (++this.#seenCount > this.#seen.length * 8) {
        this.#seen.fill(0);
        this.#seenCount = 0;
      }
      return bytes;
    }
    return this.put(segment, offset, bytes);
  }

  /** Keep a copy of `bytes`; returns the copy, or `bytes` when too long to keep. */
  put(segment: number, offset: number, bytes: Uint8Array): Uint8Array {
    const length = bytes.length;
    if (length > FRAME_CACHE_FRAME_BYTES_MAX) return bytes;
    if (this.#slabs.length === 0) {
      const slots = 1 << SLOT_BITS;
      this.#seg = new Uint32Array(slots);
      this.#off = new Uint32Array(slots);
      this.#at = new Uint32Array(slots);
      this.#len = new Uint16Array(slots);
      this.#genOf = new Uint32Array(slots);
      this.#slabs = [new Uint8Array(GENERATION_BYTES), new Uint8Array(GENERATION_BYTES)];
    }
    if (this.#w + length > GENERATION_BYTES) {
      this.#gen++;
      this.#slabs[this.#gen & 1] = new Uint8Array(GENERATION_BYTES); // never over a handed-out one
      this.#w = 0;
    }
    const at = this.#w;
    const slab = this.#slabs[this.#gen & 1];
    slab.set(bytes, at);
    this.#w = at + length;
    const slot = this.#slot(segment, offset);
    this.#seg[slot] = segment;
    this.#off[slot] = offset;
    this.#at[slot] = at;
    this.#len[slot] = length;
    this.#genOf[slot] = this.#gen;
    return slab.subarray(at, at + length);
  }

  /** Drop every frame of `segment` (rewritten by a compaction). */
  dropSegment(segment: number): void {
    for (let slot = 0; slot < this.#genOf.length; slot++) {
      if (this.#seg[slot] === segment) this.#genOf[slot] = 0;
    }
  }

  clear(): void {
    this.#seen.fill(0);
    this.#seenCount = 0;
    this.#genOf.fill(0);
    if (this.#slabs.length > 0) {
      this.#gen += 2; // every slot's generation is now too old
      this.#slabs = [new Uint8Array(GENERATION_BYTES), new Uint8Array(GENERATION_BYTES)];
      this.#w = 0;
    }
  }
}

/**
 * A failed read as a typed error (code `"IO_ERROR"`): the bytes may be fine,
 * the device said no. Retrying later may succeed; the writer is not poisoned.
 */
function ioError(segment: number, offset: number, cause: unknown): StoreError {
  return new StoreError(
    "IO_ERROR",
    `reading ${segmentName(segment)} at offset ${offset} failed: ${
      (cause as Error)?.message ?? cause
    }`,
    { cause },
  );
}
