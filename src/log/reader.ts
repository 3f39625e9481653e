/**
 * Reads frames by position through read handles kept in an LRU bounded by
 * `fdBudget`; frames still in the write buffer are served from it.
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
    const buffered = this.#end?.readBuffered(segment, offset, length);
    if (buffered) return buffered;
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
