/**
 * The pool behind `OpfsFileSystem`: physical OPFS files, each with its sync
 * access handle open for the pool's lifetime, mapped onto logical paths by
 * their headers (see `_opfs_header.ts`).
 *
 * Everything here is synchronous except {@linkcode Pool.open}, growing the
 * pool ({@linkcode Pool.reserve} and the background replenishment) and
 * retiring surplus files, because only those need the asynchronous OPFS
 * calls (`getFileHandle`, `createSyncAccessHandle`, `removeEntry`).
 *
 * Invariants:
 * - every header change (create, rename, remove) is one slot write followed
 *   by a flush, before the call returns: the namespace is always durable;
 * - a file is reused only after it was freed by a flushed `truncate(0)`, so
 *   no crash can show a reused file under its old name;
 * - a file removed (or renamed over) while logical handles are open is
 *   tombstoned and freed on its last close, so no handle ever writes into a
 *   file that was handed to another path;
 * - every sync handle is wrapped in its read-ahead window
 *   (`_opfs_read_ahead.ts`) as it is opened, and the pool touches files only
 *   through the wrapper, so no write, truncate or free can leave a stale
 *   window behind.
 *
 * @module
 */

import { IoError, StorageFullError, StoreLockedError } from "../core/errors.ts";
import type { PoolDirectory, SyncHandle } from "./_opfs_backend.ts";
import { translate } from "./_opfs_backend.ts";
import {
  READ_AHEAD_BYTES_DEFAULT,
  READ_AHEAD_WINDOWS_DEFAULT,
  ReadAhead,
  type ReadAheadOptions,
  type ReadAheadStats,
} from "./_opfs_read_ahead.ts";
import {
  decodeHeader,
  encodeSlot,
  type EntryKind,
  HEADER_BYTES,
  type HeaderState,
  SLOT_BYTES,
} from "./_opfs_header.ts";

/** Physical file names: `p` and six or more digits (others in the directory are left alone). */
const PHYSICAL_NAME = /^p(\d{6,})$/;
const PHYSICAL_DIGITS = 6;

/** How the pool is sized. */
export interface PoolOptions {
  /**
   * Free files kept ready, so that this many files can be created
   * synchronously in one burst; the pool grows back in the background after
   * each allocation. At least 1.
   */
  spares: number;
  /** Read-ahead in front of each file's sync handle; default 8 windows of 64 KiB. */
  readAhead?: ReadAheadOptions;
}

/** Counters of a pool, for diagnostics and tests. */
export interface PoolStats {
  /** Physical files with an open sync handle. */
  files: number;
  /** Of those, free and ready to be handed out synchronously. */
  spares: number;
  /** Header writes since open. */
  headerWrites: number;
  /** Physical files created since open (the pool growing). */
  grown: number;
  /** Allocations refused because no spare was left. */
  exhausted: number;
  /** The last error of a background growth, if the last attempt failed. */
  growthError?: Error;
  /** What the read-ahead served and read. */
  readAhead: ReadAheadStats;
}

/** One physical file of the pool. */
export class PoolFile {
  /** Its name in the OPFS directory. */
  readonly name: string;
  /** Its sync access handle, open until the pool closes or retires it. */
  readonly handle: SyncHandle;
  /** What its header says; `undefined` while free. */
  state: HeaderState | undefined;
  /** The slot holding `state` (-1 when none does). */
  slot: -1 | 0 | 1;
  /** Open logical handles. */
  openHandles = 0;
  /** Removed or renamed over while handles were open: freed on the last close. */
  detached = false;

  constructor(name: string, handle: SyncHandle, state: HeaderState | undefined, slot: -1 | 0 | 1) {
    this.name = name;
    this.handle = handle;
    this.state = state;
    this.slot = slot;
  }

  /** Logical size: the physical size less the header. */
  logicalSize(): number {
    return Math.max(0, this.handle.getSize() - HEADER_BYTES);
  }
}

/** Write all of `data` at `at`, looping over short writes; throws the port's errors. */
export function writeFully(handle: SyncHandle, data: Uint8Array, at: number, path: string): void {
  let done = 0;
  while (done < data.length) {
    let n: number;
    try {
      n = handle.write(done === 0 ? data : data.subarray(done), { at: at + done });
    } catch (err) {
      throw translate(err, "write", path);
    }
    if (!(n > 0)) {
      throw new IoError(
        "io",
        "write",
        path,
        `the browser wrote ${n} of ${data.length - done} bytes`,
      );
    }
    done += n;
  }
}

/** Read up to `buf.length` bytes at `at`, looping until filled or end of file. */
export function readFully(handle: SyncHandle, buf: Uint8Array, at: number, path: string): number {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = handle.read(done === 0 ? buf : buf.subarray(done), { at: at + done });
    } catch (err) {
      throw translate(err, "read", path);
    }
    if (!(n > 0)) break;
    done += n;
  }
  return done;
}

function flushOrThrow(handle: SyncHandle, op: string, path: string): void {
  try {
    handle.flush();
  } catch (err) {
    throw translate(err, op, path);
  }
}

function truncateOrThrow(handle: SyncHandle, size: number, op: string, path: string): void {
  try {
    handle.truncate(size);
  } catch (err) {
    throw translate(err, op, path);
  }
}

/** The physical name for pool number `n`. */
function physicalName(n: number): string {
  return `p${String(n).padStart(PHYSICAL_DIGITS, "0")}`;
}

/** `a` wins over `b` for the same path: higher generation, then the earlier name. */
function wins(a: PoolFile, b: PoolFile): boolean {
  const ga = a.state!.generation;
  const gb = b.state!.generation;
  return ga !== gb ? ga > gb : a.name < b.name;
}

/**
 * The logical namespace over the physical files: path → file or directory
 * marker, plus a child index so directory listings and existence checks are
 * one map lookup.
 */
export class Pool {
  readonly dir: PoolDirectory;
  /** Logical path → the physical file holding it (file or directory marker). */
  readonly entries: Map<string, PoolFile> = new Map();
  /** Directory path → its children's names → how many entries lie below that child. */
  readonly #children: Map<string, Map<string, number>> = new Map();
  #spares: PoolFile[] = [];
  #options: PoolOptions;
  #generation = 0;
  #nextNumber = 1;
  /** Every physical file with an open handle (named, spare, tombstoned or failed). */
  readonly #all: Set<PoolFile> = new Set();
  #closed = false;
  /** The background work (growth, retirement), one at a time. */
  #background: Promise<void> = Promise.resolve();
  #backgroundPending = false;
  #stats = { headerWrites: 0, grown: 0, exhausted: 0 };
  #growthError: Error | undefined;
  readonly #readAhead: ReadAhead;

  private constructor(dir: PoolDirectory, options: PoolOptions) {
    this.dir = dir;
    this.#options = options;
    this.#readAhead = new ReadAhead(
      options.readAhead ??
        { windowBytes: READ_AHEAD_BYTES_DEFAULT, windows: READ_AHEAD_WINDOWS_DEFAULT },
    );
  }

  /**
   * Open every physical file of `dir`, resolve the namespace from the
   * headers (for a path claimed twice, after a crash mid-rename, the higher
   * generation wins and the other file is freed), free what is unnamed, and
   * grow until `options.spares` files are free.
   */
  static async open(dir: PoolDirectory, options: PoolOptions): Promise<Pool> {
    const pool = new Pool(dir, options);
    try {
      await pool.#load();
      await pool.reserve(options.spares);
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  async #load(): Promise<void> {
    const names = (await this.dir.list()).filter((n) => PHYSICAL_NAME.test(n)).sort();
    const files: PoolFile[] = [];
    for (const name of names) {
      const handle = this.#readAhead.wrap(await this.dir.open(name, false));
      if (this.#closed) {
        handle.close();
        throw new StoreLockedError(this.dir.label);
      }
      const path = `${this.dir.label}/${name}`;
      const file = new PoolFile(name, handle, undefined, -1);
      this.#all.add(file);
      const header = new Uint8Array(Math.min(HEADER_BYTES, handle.getSize()));
      readFully(handle, header, 0, path);
      const decoded = decodeHeader(header);
      file.state = decoded?.state;
      file.slot = decoded?.slot ?? -1;
      files.push(file);
      this.#generation = Math.max(this.#generation, decoded?.state.generation ?? 0);
      this.#nextNumber = Math.max(this.#nextNumber, Number(PHYSICAL_NAME.exec(name)![1]) + 1);
    }
    for (const file of files) {
      if (file.state === undefined || file.state.kind === "free") {
        this.#free(file);
        continue;
      }
      const other = this.entries.get(file.state.path);
      if (other === undefined) {
        this.#attach(file.state.path, file);
      } else if (wins(file, other)) {
        this.#detach(file.state.path);
        this.#free(other);
        this.#attach(file.state.path, file);
      } else {
        this.#free(file);
      }
    }
  }

  /** Counters and sizes, for diagnostics. */
  stats(): PoolStats {
    return {
      files: this.#all.size,
      spares: this.#spares.length,
      ...this.#stats,
      ...(this.#growthError ? { growthError: this.#growthError } : {}),
      readAhead: this.#readAhead.stats(),
    };
  }

  /** Throw unless the pool is open. */
  assertOpen(op: string, path: string): void {
    if (this.#closed) {
      throw new IoError("io", op, path, "the OpfsFileSystem is closed");
    }
  }

  /** True for the root and for every directory with a marker or anything below it. */
  isDirectory(path: string): boolean {
    return path === "/" || this.#children.has(path) ||
      this.entries.get(path)?.state?.kind === "directory";
  }

  /** The logical file at `path`, if any. */
  file(path: string): PoolFile | undefined {
    const file = this.entries.get(path);
    return file?.state?.kind === "file" ? file : undefined;
  }

  /** Names directly below directory `path`, sorted. */
  childNames(path: string): string[] {
    return [...(this.#children.get(path)?.keys() ?? [])].sort();
  }

  /**
   * Hand a spare to `path` as a new `kind` entry: one header write and
   * flush. Throws `StorageFullError` when no spare is left (the pool is
   * grown in the background; {@linkcode Pool.reserve} waits for it).
   */
  allocate(kind: EntryKind, path: string, op: string): PoolFile {
    const file = this.#spares.pop();
    if (file === undefined) {
      this.#stats.exhausted++;
      this.#scheduleBackground();
      const why = this.#growthError
        ? ` (the last growth failed: ${this.#growthError.message})`
        : "";
      throw new StorageFullError(op, path, {
        cause: new Error(
          `${this.dir.label}: no spare file in the pool of ${this.#all.size}${why}; it grows in ` +
            `the background, so retry later, or await OpfsFileSystem.reserve(n) before ` +
            `creating many files at once (a snapshot)`,
        ),
      });
    }
    try {
      this.writeHeader(file, { kind, path, generation: this.#generation + 1 }, op, path);
    } catch (err) {
      this.#spares.push(file);
      throw err;
    }
    this.#attach(path, file);
    this.#scheduleBackground();
    return file;
  }

  /** Write `state` into the slot that does not hold the current state, then flush. */
  writeHeader(file: PoolFile, state: HeaderState, op: string, path: string): void {
    const slot = file.slot === 0 ? 1 : 0;
    writeFully(file.handle, encodeSlot(state), slot * SLOT_BYTES, path);
    flushOrThrow(file.handle, op, path);
    this.#generation = state.generation;
    this.#stats.headerWrites++;
    file.state = state;
    file.slot = slot;
  }

  /** Give file `file` the name `to` (one header write), freeing whatever held `to`. */
  rename(file: PoolFile, from: string, to: string): void {
    const state: HeaderState = { kind: "file", path: to, generation: this.#generation + 1 };
    this.writeHeader(file, state, "rename", from);
    // The rename is durable now; the rest is bookkeeping.
    this.#detach(from);
    const replaced = this.entries.get(to);
    if (replaced !== undefined) this.#detach(to);
    this.#attach(to, file);
    if (replaced !== undefined) {
      try {
        this.#tombstoneIfOpen(replaced, "rename", to);
      } catch {
        // Harmless: its header names `to` with a lower generation, so it loses at every open.
      }
      this.release(replaced, true);
    }
  }

  /** Remove the name `path` (file or directory marker) and free its file. */
  remove(path: string): void {
    const file = this.entries.get(path);
    if (file === undefined) return;
    this.#tombstoneIfOpen(file, "remove", path);
    this.#detach(path);
    this.release(file, true);
  }

  /**
   * A file losing its name while logical handles are open keeps its bytes
   * until the last close, but its header says "free" at once, so no crash
   * brings the name back.
   */
  #tombstoneIfOpen(file: PoolFile, op: string, path: string): void {
    if (file.openHandles === 0) return;
    const tombstone: HeaderState = { kind: "free", path: "", generation: this.#generation + 1 };
    this.writeHeader(file, tombstone, op, path);
  }

  /**
   * Drop one logical handle of `file` (`detach`: or its name) and free the
   * file once it has neither. Freeing is a flushed `truncate(0)`: the header
   * and data go, and the file rejoins the spares.
   */
  release(file: PoolFile, detach = false): void {
    if (detach) file.detached = true;
    else file.openHandles--;
    if (file.detached && file.openHandles === 0) {
      if (!this.#free(file)) return;
      this.#scheduleBackground();
    }
  }

  /** Truncate `file` to nothing and keep it as a spare; false (file retired) when that failed. */
  #free(file: PoolFile): boolean {
    const path = `${this.dir.label}/${file.name}`;
    try {
      if (file.handle.getSize() > 0) {
        truncateOrThrow(file.handle, 0, "remove", path);
        flushOrThrow(file.handle, "remove", path);
      }
    } catch {
      // A file that cannot be freed is not reused; it is retired when the pool closes.
      return false;
    }
    file.state = undefined;
    file.slot = -1;
    file.detached = false;
    file.openHandles = 0;
    this.#spares.push(file);
    return true;
  }

  #attach(path: string, file: PoolFile): void {
    this.entries.set(path, file);
    this.#walk(path, +1);
  }

  #detach(path: string): void {
    if (this.entries.delete(path)) this.#walk(path, -1);
  }

  /** Count `path` in (or out of) the child index of each of its ancestors. */
  #walk(path: string, delta: 1 | -1): void {
    let child = path;
    while (child !== "/") {
      const cut = child.lastIndexOf("/");
      const parent = cut <= 0 ? "/" : child.slice(0, cut);
      const name = child.slice(cut + 1);
      let names = this.#children.get(parent);
      if (names === undefined) {
        names = new Map();
        this.#children.set(parent, names);
      }
      const count = (names.get(name) ?? 0) + delta;
      if (count > 0) names.set(name, count);
      else names.delete(name);
      if (names.size === 0) this.#children.delete(parent);
      child = parent;
    }
  }

  /**
   * Grow the pool until at least `spares` files are free. Await it before
   * creating many files synchronously (a snapshot creates one per segment).
   */
  async reserve(spares: number): Promise<void> {
    this.assertOpen("reserve", this.dir.label);
    const run = this.#background.then(() => this.#grow(spares));
    this.#background = run.catch(() => {});
    await run;
  }

  async #grow(target: number): Promise<void> {
    while (!this.#closed && this.#spares.length < target) {
      const name = physicalName(this.#nextNumber++);
      const handle = this.#readAhead.wrap(await this.dir.open(name, true));
      if (this.#closed) {
        handle.close();
        return;
      }
      const file = new PoolFile(name, handle, undefined, -1);
      this.#all.add(file);
      this.#stats.grown++;
      this.#spares.push(file);
    }
  }

  /** Retire spares beyond twice the target: close their handles and remove the files. */
  async #shrink(): Promise<void> {
    const keep = 2 * this.#options.spares;
    while (!this.#closed && this.#spares.length > keep) {
      const file = this.#spares.shift()!;
      this.#all.delete(file);
      file.handle.close();
      await this.dir.remove(file.name);
    }
  }

  /** Top the spares up (or trim them) after an allocation or a free, off the caller's path. */
  #scheduleBackground(): void {
    const n = this.#spares.length;
    if (this.#backgroundPending || this.#closed) return;
    if (n >= this.#options.spares && n <= 2 * this.#options.spares) return;
    this.#backgroundPending = true;
    this.#background = this.#background.then(async () => {
      this.#backgroundPending = false;
      try {
        await this.#grow(this.#options.spares);
        await this.#shrink();
        this.#growthError = undefined;
      } catch (err) {
        // Never an unhandled rejection: the next allocation that finds no spare reports it.
        this.#growthError = err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  /** Wait for the background work queued so far (tests and `close` use it). */
  settled(): Promise<void> {
    return this.#background;
  }

  /** Close every sync handle and release the directory's lock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const file of this.#all) {
      try {
        file.handle.close();
      } catch { /* closing is best effort: the worker's end frees the handles too */ }
    }
    this.entries.clear();
    this.#children.clear();
    this.#spares = [];
    this.#all.clear();
    this.dir.release();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }
}
