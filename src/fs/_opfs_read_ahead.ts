/**
 * Read-ahead for the sync access handles of the OPFS pool.
 *
 * Why: a read on a `FileSystemSyncAccessHandle` costs a few microseconds
 * however small it is (measured in Chromium: ~2.5–4 µs for 128 bytes, the
 * same for 4 KiB, against ~0.3 µs for a copy in memory), and the store reads
 * single frames of a hundred-odd bytes at neighbouring positions (`get` in
 * order, the frames of a sparse stream, receipts of duplicates). The frame
 * reader already fetches runs of neighbouring frames of one read in one call
 * (`src/read/events.ts`); this serves the reads it cannot batch.
 *
 * How: each handle may hold one window, a copy of the file's bytes
 * `[start, start + valid)`. A read that falls inside it is a copy. A read
 * that misses fills the window from the start of the 4 KiB block it falls
 * in (so what lies just before it is there too: a format-2 event's
 * previous frame, which a lone `get` reads right after the event): 4 KiB
 * when the reads look random (which costs no more than the small read
 * itself), doubling up to {@linkcode ReadAheadOptions.windowBytes} while
 * each miss starts at or just after where the last read ended. Reads as large as a
 * window go straight to the file and leave the window alone.
 *
 * Bounded: the pool has at most {@linkcode ReadAheadOptions.windows}
 * buffers of `windowBytes`; a handle that needs one while all are taken
 * takes the least recently used one from its holder.
 *
 * Coherent: the window lives on the physical file's handle, under every
 * logical handle of that file and the pool's own header writes, so every
 * change to the file goes through it. A write copies what it wrote into the
 * window's overlap; a truncate cuts the window to the new size; a write,
 * truncate or read that throws drops the window (its outcome is unknown). A
 * window never covers bytes past the end of the file as it was when filled
 * (a short fill records only what it got), so bytes appended later are read
 * from the file.
 *
 * @module
 */

import type { SyncHandle } from "./_opfs_backend.ts";

/** How much the pool reads ahead. */
export interface ReadAheadOptions {
  /** Largest window, bytes; 0 turns read-ahead off. */
  windowBytes: number;
  /** Windows the pool may hold at once (memory: `windows × windowBytes`). */
  windows: number;
}

/** Default largest window: 64 KiB, about four hundred 150-byte frames, read in ~10–30 µs. */
export const READ_AHEAD_BYTES_DEFAULT = 64 * 1024;
/** Default number of windows: 8, so at most 512 KiB per pool. */
export const READ_AHEAD_WINDOWS_DEFAULT = 8;
/** The first (and the random-access) fill: as cheap as a small read. */
export const READ_AHEAD_FIRST_BYTES = 4 * 1024;
/** Largest window accepted, bytes. */
export const READ_AHEAD_BYTES_MAX = 16 * 1024 * 1024;

/** Counters of a pool's read-ahead. */
export interface ReadAheadStats {
  /** Reads served from a window. */
  hits: number;
  /** Reads that filled a window from the file. */
  fills: number;
  /** Reads at least a window large, passed straight to the file. */
  direct: number;
  /** Bytes read from the file into windows. */
  bytesFilled: number;
  /** Window buffers allocated (at most `windows`). */
  buffers: number;
}

/** The pool-wide side: the buffers, their holders in LRU order, the counters. */
export class ReadAhead {
  readonly windowBytes: number;
  readonly windows: number;
  // Map iteration order is insertion order: re-inserting on use makes it an LRU.
  readonly #holders = new Map<WindowedHandle, true>();
  readonly #stats: ReadAheadStats = { hits: 0, fills: 0, direct: 0, bytesFilled: 0, buffers: 0 };

  constructor(options: ReadAheadOptions) {
    this.windowBytes = options.windowBytes;
    this.windows = options.windows;
  }

  /** `handle` with a read-ahead window in front of it (itself when read-ahead is off). */
  wrap(handle: SyncHandle): SyncHandle {
    return this.windowBytes > 0 ? new WindowedHandle(handle, this) : handle;
  }

  /** A copy of the counters. */
  stats(): ReadAheadStats {
    return { ...this.#stats };
  }

  /** Count one event. */
  count(what: "hits" | "fills" | "direct", bytesFilled = 0): void {
    this.#stats[what]++;
    this.#stats.bytesFilled += bytesFilled;
  }

  /** A buffer for `holder`: a new one while fewer than `windows` exist, else the LRU holder's. */
  take(holder: WindowedHandle): Uint8Array {
    if (this.#holders.size < this.windows) {
      this.#stats.buffers++;
      this.#holders.set(holder, true);
      return new Uint8Array(this.windowBytes);
    }
    const oldest = this.#holders.keys().next().value!;
    this.#holders.delete(oldest);
    this.#holders.set(holder, true);
    return oldest.surrender();
  }

  /** Mark `holder` as the most recently used. */
  touch(holder: WindowedHandle): void {
    this.#holders.delete(holder);
    this.#holders.set(holder, true);
  }

  /** `holder` is closing: its buffer is dropped (the next taker allocates a new one). */
  forget(holder: WindowedHandle): void {
    if (this.#holders.delete(holder)) this.#stats.buffers--;
  }
}

/** A sync handle with one read-ahead window in front of it. */
export class WindowedHandle implements SyncHandle {
  readonly #inner: SyncHandle;
  readonly #pool: ReadAhead;
  #buf: Uint8Array | undefined;
  /** File offset of the window's first byte. */
  #start = 0;
  /** Bytes of the window that hold the file's bytes (0: the window is empty). */
  #valid = 0;
  /** Where the last read ended: a miss at or just after it is a sequential one. */
  #lastEnd = -1;
  /** The size of the next fill. */
  #ahead: number;
  /** The first fill: {@linkcode READ_AHEAD_FIRST_BYTES}, or the whole window when smaller. */
  readonly #first: number;

  constructor(inner: SyncHandle, pool: ReadAhead) {
    this.#inner = inner;
    this.#pool = pool;
    this.#first = Math.min(pool.windowBytes, READ_AHEAD_FIRST_BYTES);
    this.#ahead = this.#first;
  }

  /** Give up the buffer (to another handle); the window is empty afterwards. */
  surrender(): Uint8Array {
    const buf = this.#buf!;
    this.#buf = undefined;
    this.#valid = 0;
    return buf;
  }

  read(buffer: Uint8Array, options: { at: number }): number {
    const at = options.at;
    const length = buffer.length;
    const pool = this.#pool;
    if (this.#valid > 0 && at >= this.#start && at + length <= this.#start + this.#valid) {
      const from = at - this.#start;
      buffer.set(this.#buf!.subarray(from, from + length));
      this.#lastEnd = at + length;
      pool.touch(this);
      pool.count("hits");
      return length;
    }
    if (length === 0 || length >= pool.windowBytes) {
      pool.count("direct");
      this.#lastEnd = at + length;
      return this.#inner.read(buffer, options);
    }
    const sequential = at >= this.#lastEnd && at - this.#lastEnd <= this.#ahead;
    this.#ahead = sequential ? Math.min(pool.windowBytes, this.#ahead * 2) : this.#first;
    this.#lastEnd = at + length;
    // Fill from the start of the first-fill block holding `at`, so a read of what lies just
    // before (a format-2 event's previous frame, read right after it) is a hit too.
    const aligned = at - (at % this.#first);
    const start = at - aligned + length <= pool.windowBytes ? aligned : at;
    const fill = Math.max(at - start + length, this.#ahead);
    if (this.#buf === undefined) this.#buf = pool.take(this);
    else pool.touch(this);
    const window = this.#buf.subarray(0, Math.min(fill, pool.windowBytes));
    this.#valid = 0; // stays empty if a read below throws
    let got = 0;
    while (got < window.length) {
      const n = this.#inner.read(got === 0 ? window : window.subarray(got), { at: start + got });
      if (!(n > 0)) break;
      got += n;
    }
    this.#start = start;
    this.#valid = got;
    pool.count("fills", got);
    const n = Math.max(0, Math.min(length, got - (at - start)));
    buffer.set(window.subarray(at - start, at - start + n));
    return n;
  }

  write(buffer: Uint8Array, options: { at: number }): number {
    let n: number;
    try {
      n = this.#inner.write(buffer, options);
    } catch (err) {
      this.#valid = 0; // some of it may have landed
      throw err;
    }
    if (this.#valid > 0) {
      const from = Math.max(options.at, this.#start);
      const to = Math.min(options.at + Math.max(0, n), this.#start + this.#valid);
      if (from < to) {
        this.#buf!.set(
          buffer.subarray(from - options.at, to - options.at),
          from - this.#start,
        );
      }
    }
    return n;
  }

  getSize(): number {
    return this.#inner.getSize();
  }

  truncate(size: number): void {
    try {
      this.#inner.truncate(size);
    } catch (err) {
      this.#valid = 0;
      throw err;
    }
    if (size < this.#start + this.#valid) this.#valid = Math.max(0, size - this.#start);
  }

  flush(): void {
    this.#inner.flush();
  }

  close(): void {
    this.#valid = 0;
    if (this.#buf !== undefined) {
      this.#buf = undefined;
      this.#pool.forget(this);
    }
    this.#inner.close();
  }
}
