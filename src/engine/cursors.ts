/**
 * Saved cursor positions, kept beside the log in `cursors.dat`, not in it:
 * saving a position is never an event any region delivers, and saving after
 * every poll does not grow the log.
 *
 * The file is a header and a sequence of records, each `[crc32 u32][name
 * length u16][reserved u16][position f64][name UTF-8]`, the CRC covering
 * everything after it; the last record of a name wins. A save appends one
 * record (durable with the store's next sync, which syncs the log first, so
 * a saved position never outlives the events it points past); when dead
 * records outnumber live ones the file is rewritten (to a temporary file,
 * synced, renamed into place). A torn last record — a crash mid-save — is
 * ignored and cut at the next writable open.
 *
 * @module
 */

import { crc32Range } from "../core/crc32.ts";
import { StoreError } from "../core/errors.ts";
import { utf8Decode, utf8Encode } from "../core/utf8.ts";
import { joinPath } from "../fs/path.ts";
import type { FileHandle, FileSystem } from "../fs/types.ts";
import { readWhole } from "../log/files.ts";
import { TMP_SUFFIX } from "../log/segment.ts";
import { storageError } from "../log/writer.ts";

/** File name of the cursor positions. */
export const CURSORS_FILE = "cursors.dat";
const MAGIC = [0x46, 0x42, 0x43, 0x52]; // "FBCR"
const VERSION = 1;
const HEADER_BYTES = 8;
const RECORD_FIXED_BYTES = 16;
/** Rewrite once the file holds this many more records than live names (and at least this many). */
const COMPACT_SLACK_RECORDS = 256;

function header(): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(MAGIC, 0);
  h[4] = VERSION;
  return h;
}

function record(name: string, position: number): Uint8Array {
  const nameBytes = utf8Encode(name);
  const rec = new Uint8Array(RECORD_FIXED_BYTES + nameBytes.length);
  const dv = new DataView(rec.buffer);
  dv.setUint16(4, nameBytes.length, true);
  dv.setFloat64(8, position, true);
  rec.set(nameBytes, RECORD_FIXED_BYTES);
  dv.setUint32(0, crc32Range(rec, 4, rec.length), true);
  return rec;
}

/** Parse the records of `buf`; returns the positions and where the valid records end. */
function parse(buf: Uint8Array): { positions: Map<string, number>; end: number; records: number } {
  const positions = new Map<string, number>();
  if (buf.length < HEADER_BYTES || MAGIC.some((b, i) => buf[i] !== b) || buf[4] !== VERSION) {
    return { positions, end: 0, records: 0 };
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let at = HEADER_BYTES;
  let records = 0;
  while (at + RECORD_FIXED_BYTES <= buf.length) {
    const nameLength = dv.getUint16(at + 4, true);
    const end = at + RECORD_FIXED_BYTES + nameLength;
    if (end > buf.length || dv.getUint32(at, true) !== crc32Range(buf, at + 4, end)) break;
    let name: string;
    try {
      name = utf8Decode(buf, at + RECORD_FIXED_BYTES, nameLength);
    } catch {
      break;
    }
    positions.set(name, dv.getFloat64(at + 8, true));
    records++;
    at = end;
  }
  return { positions, end: at, records };
}

/** The cursor positions of one store. */
export class CursorStore {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #path: string;
  readonly #readOnly: boolean;
  #positions: Map<string, number>;
  #handle: FileHandle | undefined;
  #size: number;
  #records: number;
  #dirty = false;

  private constructor(
    fs: FileSystem,
    dir: string,
    readOnly: boolean,
    positions: Map<string, number>,
    size: number,
    records: number,
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.#path = joinPath(dir, CURSORS_FILE);
    this.#readOnly = readOnly;
    this.#positions = positions;
    this.#size = size;
    this.#records = records;
  }

  /** Load the positions of `dir` (a writable open cuts a torn last record). */
  static open(fs: FileSystem, dir: string, readOnly: boolean): CursorStore {
    const path = joinPath(dir, CURSORS_FILE);
    if (fs.stat(path) === undefined) return new CursorStore(fs, dir, readOnly, new Map(), 0, 0);
    const buf = readWhole(fs, path);
    const { positions, end, records } = parse(buf);
    const store = new CursorStore(fs, dir, readOnly, positions, end, records);
    if (!readOnly && end < buf.length) {
      // A crash mid-save (or a damaged file): keep what is whole. An unusable file starts over.
      if (end === 0) store.#rewrite();
      else {
        const h = store.#open();
        h.truncate(end);
        h.syncData();
      }
    }
    return store;
  }

  /** The saved position of `name`, or `undefined`. */
  get(name: string): number | undefined {
    return this.#positions.get(name);
  }

  /** Every saved position (for snapshots and sidecars). */
  entries(): [string, number][] {
    return [...this.#positions];
  }

  /**
   * Lower every position above `last` to it: the events past it were lost
   * in a crash (a torn crash can keep a cursor record whose events did not
   * survive). A writable store rewrites the file at once, so a later event
   * that takes the lost position is not skipped.
   */
  clamp(last: number): void {
    let changed = false;
    for (const [name, p] of this.#positions) {
      if (p > last) {
        this.#positions.set(name, last);
        changed = true;
      }
    }
    if (changed && !this.#readOnly) this.#rewrite();
  }

  #open(): FileHandle {
    if (this.#handle === undefined) {
      this.#handle = this.#fs.open(this.#path, { read: true, write: true, create: true });
    }
    return this.#handle;
  }

  /** Save `position` for `name`: written at once, durable with the next {@linkcode CursorStore.sync}. */
  save(name: string, position: number): void {
    if (this.#positions.get(name) === position) return;
    const rec = record(name, position);
    try {
      if (this.#size === 0) this.#rewrite(); // a new file: header first, durably
      this.#open().write(rec, this.#size);
    } catch (e) {
      throw storageError(e, "save cursor", this.#path);
    }
    this.#size += rec.length;
    this.#records++;
    this.#dirty = true;
    this.#positions.set(name, position);
    if (this.#records > this.#positions.size * 2 + COMPACT_SLACK_RECORDS) {
      try {
        this.#rewrite();
      } catch {
        // The long file is still valid; compaction is tried again after the next save.
      }
    }
  }

  /** Rewrite the file with one record per name: a temporary file, synced, renamed into place. */
  #rewrite(): void {
    const tmp = this.#path + TMP_SUFFIX;
    const parts = [header(), ...[...this.#positions].map(([n, p]) => record(n, p))];
    const h = this.#fs.open(tmp, { write: true, create: true, truncate: true });
    let size = 0;
    try {
      for (const part of parts) {
        h.write(part, size);
        size += part.length;
      }
      h.syncData();
    } finally {
      h.close();
    }
    this.#fs.rename(tmp, this.#path);
    this.#fs.syncDir(this.#dir);
    this.#handle?.close();
    this.#handle = undefined;
    this.#size = size;
    this.#records = this.#positions.size;
    this.#dirty = false;
  }

  /** Make every save so far durable. */
  sync(): void {
    if (!this.#dirty || this.#readOnly || this.#handle === undefined) return;
    try {
      this.#handle.syncData();
    } catch (e) {
      throw e instanceof StoreError ? e : storageError(e, "sync cursors", this.#path);
    }
    this.#dirty = false;
  }

  /** Write the live positions into another directory (a snapshot). */
  copyTo(fs: FileSystem, dir: string): void {
    if (this.#positions.size === 0) return;
    const path = joinPath(dir, CURSORS_FILE);
    const h = fs.open(path, { write: true, createNew: true });
    try {
      let at = 0;
      for (const part of [header(), ...[...this.#positions].map(([n, p]) => record(n, p))]) {
        h.write(part, at);
        at += part.length;
      }
      h.syncData();
    } finally {
      h.close();
    }
  }

  /** Sync and close. */
  close(): void {
    try {
      this.sync();
    } finally {
      const h = this.#handle;
      this.#handle = undefined;
      h?.close();
    }
  }
}
