/**
 * The names of a store's kinds, kept beside the log in `kinds.dat`: which
 * name each kind number was appended under (`EventKind.define`) or
 * registered as (`StoreConfig.kinds`), so tools without the application's
 * code (the CLI's `dump` and `tail`) print `Deposited (0x1004)`, and so a
 * second name for one number is refused.
 *
 * The file is a header and a sequence of records, each `[crc32 u32][kind
 * u16][name length u16][name UTF-8]`, the CRC covering everything after
 * it. A name is written once per store, before the first event of its kind,
 * and fsynced at once (it is rare: once per kind), so every event of a
 * named kind has its name on disk. The first file is written whole (to a
 * temporary file, synced, renamed into place); later names are appended. A
 * torn last record (a crash mid-write) is ignored and cut at the next
 * writable open. The first record of a number (or a name) wins.
 *
 * @module
 */

import { crc32Range } from "../core/crc32.ts";
import { KindConflictError, ReadOnlyError, StoreError } from "../core/errors.ts";
import { KIND_NAME_BYTES_MAX } from "../core/kind.ts";
import { kindHex, type KindRegistry } from "../core/kind_registry.ts";
import { utf8Decode, utf8Encode } from "../core/utf8.ts";
import { joinPath } from "../fs/path.ts";
import type { FileHandle, FileSystem } from "../fs/types.ts";
import { readWhole } from "../log/files.ts";
import { TMP_SUFFIX } from "../log/segment.ts";
import { storageError } from "../log/writer.ts";

/** File name of the kind names. */
export const KINDS_FILE = "kinds.dat";
const MAGIC = [0x46, 0x42, 0x4b, 0x4e]; // "FBKN"
const VERSION = 1;
const HEADER_BYTES = 8;
const RECORD_FIXED_BYTES = 8;

function header(): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(MAGIC, 0);
  h[4] = VERSION;
  return h;
}

function record(kind: number, name: string): Uint8Array {
  const nameBytes = utf8Encode(name);
  const rec = new Uint8Array(RECORD_FIXED_BYTES + nameBytes.length);
  const dv = new DataView(rec.buffer);
  dv.setUint16(4, kind, true);
  dv.setUint16(6, nameBytes.length, true);
  rec.set(nameBytes, RECORD_FIXED_BYTES);
  dv.setUint32(0, crc32Range(rec, 4, rec.length), true);
  return rec;
}

interface Parsed {
  names: Map<number, string>;
  /** Where the valid records end (0: no valid header). */
  end: number;
}

function parse(buf: Uint8Array): Parsed {
  const names = new Map<number, string>();
  if (buf.length < HEADER_BYTES || MAGIC.some((b, i) => buf[i] !== b) || buf[4] !== VERSION) {
    return { names, end: 0 };
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const taken = new Set<string>();
  let at = HEADER_BYTES;
  while (at + RECORD_FIXED_BYTES <= buf.length) {
    const nameLength = dv.getUint16(at + 6, true);
    const end = at + RECORD_FIXED_BYTES + nameLength;
    if (
      nameLength === 0 || nameLength > KIND_NAME_BYTES_MAX || end > buf.length ||
      dv.getUint32(at, true) !== crc32Range(buf, at + 4, end)
    ) break;
    let name: string;
    try {
      name = utf8Decode(buf, at + RECORD_FIXED_BYTES, nameLength);
    } catch {
      break;
    }
    const kind = dv.getUint16(at + 4, true);
    if (!names.has(kind) && !taken.has(name)) {
      names.set(kind, name);
      taken.add(name);
    }
    at = end;
  }
  return { names, end: at };
}

/** The kind names of one store. */
export class KindNames {
  /** Its file name, for snapshots. */
  readonly file: string = KINDS_FILE;
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #path: string;
  readonly #readOnly: boolean;
  #names: Map<number, string>;
  #codes = new Map<string, number>();
  #size: number;
  #handle: FileHandle | undefined;

  private constructor(
    fs: FileSystem,
    dir: string,
    readOnly: boolean,
    names: Map<number, string>,
    size: number,
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.#path = joinPath(dir, KINDS_FILE);
    this.#readOnly = readOnly;
    this.#names = names;
    this.#size = size;
    for (const [code, name] of names) this.#codes.set(name, code);
  }

  /** Load the names of `dir` (a writable open cuts a torn last record). */
  static open(fs: FileSystem, dir: string, readOnly: boolean): KindNames {
    const path = joinPath(dir, KINDS_FILE);
    let buf: Uint8Array;
    try {
      // A crash mid-rewrite leaves the temporary file: the file itself is still whole.
      if (!readOnly && fs.stat(path + TMP_SUFFIX) !== undefined) fs.remove(path + TMP_SUFFIX);
      if (fs.stat(path) === undefined) return new KindNames(fs, dir, readOnly, new Map(), 0);
      buf = readWhole(fs, path);
    } catch (e) {
      throw storageError(e, "read kind names", path);
    }
    const { names, end } = parse(buf);
    const store = new KindNames(fs, dir, readOnly, names, end);
    if (!readOnly && end < buf.length) {
      try {
        // A crash mid-write (or a damaged file): keep what is whole. An unusable file starts over.
        if (end === 0) store.#rewrite();
        else {
          const h = store.#open();
          h.truncate(end);
          h.syncData();
        }
      } catch (e) {
        store.close();
        throw storageError(e, "repair kind names", path);
      }
    }
    return store;
  }

  /** The name recorded for kind number `code`, or `undefined`. */
  get(code: number): string | undefined {
    return this.#names.get(code);
  }

  /** The kind number recorded under `name`, or `undefined`. */
  codeOf(name: string): number | undefined {
    return this.#codes.get(name);
  }

  /** Every recorded name, by kind number. */
  entries(): [number, string][] {
    return [...this.#names];
  }

  /**
   * Record each `[code, name]`, durably (one write and one fsync before this
   * returns). Pairs already recorded are skipped; the caller has checked
   * that neither the number nor the name is taken otherwise.
   */
  remember(pairs: Iterable<readonly [number, string]>): void {
    const added: [number, string][] = [];
    for (const [code, name] of pairs) {
      if (this.#names.get(code) !== name) added.push([code, name]);
    }
    if (added.length === 0) return;
    if (this.#readOnly) throw new ReadOnlyError();
    for (const [code, name] of added) {
      this.#names.set(code, name);
      this.#codes.set(name, code);
    }
    try {
      if (this.#size === 0) this.#rewrite(); // a new file: whole, durably
      else {
        const recs = added.map(([code, name]) => record(code, name));
        const bytes = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
        let at = 0;
        for (const r of recs) (bytes.set(r, at), at += r.length);
        const h = this.#open();
        h.write(bytes, this.#size);
        h.syncData();
        this.#size += bytes.length;
      }
    } catch (e) {
      for (const [code, name] of added) {
        this.#names.delete(code);
        this.#codes.delete(name);
      }
      // A partly written record is cut at the next open; the next name overwrites it.
      throw e instanceof StoreError ? e : storageError(e, "save kind names", this.#path);
    }
  }

  /** Re-read the file: a read-only store picks up names another process recorded. */
  reload(): void {
    if (!this.#readOnly) return;
    try {
      if (this.#fs.stat(this.#path) === undefined) return;
      const { names, end } = parse(readWhole(this.#fs, this.#path));
      this.#names = names;
      this.#size = end;
      this.#codes = new Map([...names].map(([code, name]) => [name, code]));
    } catch {
      // Names only label events: keep the ones already read.
    }
  }

  #bytes(): Uint8Array[] {
    return [header(), ...[...this.#names].map(([code, name]) => record(code, name))];
  }

  #open(): FileHandle {
    if (this.#handle === undefined) {
      this.#handle = this.#fs.open(this.#path, { read: true, write: true, create: true });
    }
    return this.#handle;
  }

  /** Write the file with every name: a temporary file, synced, renamed into place. */
  #rewrite(): void {
    const tmp = this.#path + TMP_SUFFIX;
    const h = this.#fs.open(tmp, { write: true, create: true, truncate: true });
    let size = 0;
    try {
      for (const part of this.#bytes()) {
        h.write(part, size);
        size += part.length;
      }
      h.syncData();
    } finally {
      h.close();
    }
    this.#handle?.close();
    this.#handle = undefined;
    this.#fs.rename(tmp, this.#path);
    this.#fs.syncDir(this.#dir);
    this.#size = size;
  }

  /** Write every name into another directory (a snapshot); returns the path, or `undefined` when there are none. */
  copyTo(fs: FileSystem, dir: string): string | undefined {
    if (this.#names.size === 0) return undefined;
    const path = joinPath(dir, KINDS_FILE);
    const h = fs.open(path, { write: true, createNew: true });
    try {
      let at = 0;
      for (const part of this.#bytes()) {
        h.write(part, at);
        at += part.length;
      }
      h.syncData();
    } finally {
      h.close();
    }
    return path;
  }

  /** Release the file handle. */
  close(): void {
    const h = this.#handle;
    this.#handle = undefined;
    h?.close();
  }
}

/** A store's kinds: what it registered (`StoreConfig.kinds`) and what it recorded (`kinds.dat`). */
export interface StoreKinds {
  readonly registry: KindRegistry;
  readonly names: KindNames;
}

/**
 * Open the kind names of `dir` and check the registered kinds against them
 * ({@linkcode KindConflictError} when one has another name there); a
 * writable store records the names of registered kinds that are new.
 */
export function openStoreKinds(
  fs: FileSystem,
  dir: string,
  readOnly: boolean,
  registry: KindRegistry,
): StoreKinds {
  const names = KindNames.open(fs, dir, readOnly);
  try {
    for (const k of registry.definitions()) {
      const recorded = names.get(k.code);
      const other = names.codeOf(k.name);
      if (recorded !== undefined && recorded !== k.name) {
        throw new KindConflictError(
          k.code,
          recorded,
          k.name,
          `config.kinds names kind ${kindHex(k.code)} "${k.name}", but this store recorded it as ` +
            `"${recorded}" (${KINDS_FILE}): a kind's name is fixed once used`,
        );
      }
      if (other !== undefined && other !== k.code) {
        throw new KindConflictError(
          k.code,
          kindHex(other),
          kindHex(k.code),
          `config.kinds names kind ${kindHex(k.code)} "${k.name}", but this store recorded ` +
            `"${k.name}" for kind ${kindHex(other)} (${KINDS_FILE})`,
        );
      }
    }
    if (!readOnly) names.remember(registry.definitions().map((k) => [k.code, k.name] as const));
  } catch (e) {
    names.close();
    throw e;
  }
  return { registry, names };
}
