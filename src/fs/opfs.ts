/**
 * The storage port on the browser's Origin Private File System (OPFS), for a
 * store in a dedicated worker.
 *
 * The port is synchronous (an append returns its receipt at once, and may
 * rotate to a new segment on the way), but of OPFS only the methods of a
 * `FileSystemSyncAccessHandle` are: getting a directory, creating a file,
 * taking a sync handle and removing an entry are asynchronous. So, as
 * SQLite's `opfs-sahpool` VFS does, {@linkcode OpfsFileSystem.open} opens a
 * **pool** of physical files up front, each with its sync handle held for
 * the pool's lifetime, and maps logical paths onto them:
 *
 * - each physical file starts with a 4 KiB header (two slots, each with the
 *   logical path, a pool-wide generation and a CRC); the data follows;
 * - creating a file hands a free physical file to the path (one header
 *   write); a rename is one header write to the source file, into the slot
 *   that does not hold its current state, so a torn write leaves the old
 *   state readable; after a crash between the rename and the freeing of the
 *   file it replaced, both files name the destination and the higher
 *   generation wins, so a crash mid-rename always resolves the same way;
 * - removing a file truncates it to nothing (flushed) and keeps it as a
 *   spare; every namespace change is flushed before the call returns, so
 *   `syncDir` has nothing left to do;
 * - after an allocation, the pool grows back to its number of spares in the
 *   background (the only asynchronous work after open); when a synchronous
 *   burst uses every spare, the next creation throws
 *   `StorageFullError` (a pool with no free file is a device with
 *   no free inode) and nothing is written; {@linkcode OpfsFileSystem.reserve}
 *   waits until a given number of spares is ready.
 *
 * Reads: each physical file has a read-ahead window in front of its sync
 * handle (see {@linkcode OpfsOpenOptions.readAheadBytes}), shared by every
 * logical handle of the file and kept exact by every write and truncate
 * through any of them; a pool holds a bounded number of windows.
 *
 * Locking: the pool is exclusive to one worker. {@linkcode OpfsFileSystem.open}
 * takes a Web Lock named after the pool, and every sync access handle is an
 * exclusive lock on its file in any case; a second worker or tab gets
 * `StoreLockedError`. Both locks end with the worker, so a reload
 * or a crashed tab frees the pool. Within the worker, `lockDir` is an
 * in-memory lock, as on the other backends.
 *
 * Errors: `QuotaExceededError` becomes `StorageFullError`; every
 * other failure an {@linkcode IoError} with the browser's `DOMException` as
 * `cause`.
 *
 * @example In a dedicated worker
 * ```ts ignore
 * import { Coordinate, EventKind, OpfsFileSystem, Store } from "./dist/batpak.browser.js";
 * const fs = await OpfsFileSystem.open("notes");
 * const store = Store.open({ dataDir: "/", fs });
 * store.append(new Coordinate("note:1", "notes"), EventKind.custom(1, 1), { text: "hi" });
 * await store.durable();
 * store.close();
 * fs.close();
 * ```
 *
 * @module
 */

import { InvalidArgumentError, IoError } from "../core/errors.ts";
import { openOpfsDirectory, type PoolDirectory, translate } from "./_opfs_backend.ts";
import { encodePath, HEADER_BYTES, PATH_BYTES_MAX } from "./_opfs_header.ts";
import { Pool, type PoolFile, type PoolStats, readFully, writeFully } from "./_opfs_pool.ts";
import {
  READ_AHEAD_BYTES_DEFAULT,
  READ_AHEAD_BYTES_MAX,
  READ_AHEAD_WINDOWS_DEFAULT,
  type ReadAheadOptions,
  type ReadAheadStats,
} from "./_opfs_read_ahead.ts";
import { normalizePath, parentPath } from "./path.ts";
import type { DirLock, FileHandle, FileInfo, FileSystem, OpenOptions } from "./types.ts";

/** Spare files kept ready by default: a rotation, sidecars and their temporaries, with room. */
export const OPFS_SPARES_DEFAULT = 8;
/** The OPFS directory a pool lives in when `open` is given no name. */
export const OPFS_NAME_DEFAULT = "batpak";

/**
 * Options of {@linkcode OpfsFileSystem.open}.
 *
 * @example
 * ```ts ignore
 * import { OpfsFileSystem, type OpfsOpenOptions } from "./dist/batpak.browser.js";
 * const options: OpfsOpenOptions = { spares: 32, lockWaitMs: 2_000 };
 * const fs = await OpfsFileSystem.open("app", options);
 * ```
 */
export interface OpfsOpenOptions {
  /**
   * Free files kept ready for synchronous creation, refilled in the
   * background after each use. Default {@linkcode OPFS_SPARES_DEFAULT}; a
   * store creates one file per segment rotation and two sidecars (each
   * through a temporary) when it closes.
   */
  spares?: number;
  /**
   * How long to wait for another worker or tab to release the pool before
   * throwing `StoreLockedError`. Default 0: fail at once. A page
   * that reopens the store right after a reload may want a second or two,
   * while the browser tears the old worker down.
   */
  lockWaitMs?: number;
  /**
   * Largest read-ahead window, bytes (default 64 KiB; 0 turns read-ahead
   * off). Small reads on a sync access handle cost a few microseconds each
   * whatever their size, so a read that misses fills a window from its
   * position (a few KiB for random reads, growing while reads run forward)
   * and later reads inside it are copies. Writes and truncates keep the
   * windows exact. At most 16 MiB.
   */
  readAheadBytes?: number;
  /** Read-ahead windows the pool holds at once (default 8): memory is `readAheadWindows × readAheadBytes`. */
  readAheadWindows?: number;
}

const RW_FLAGS_DEFAULT: OpenOptions = { read: true };

function checkPosition(position: number, op: string, path: string): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new IoError("io", op, path, `position must be a non-negative integer, got ${position}`);
  }
}

/** A logical file handle: positions shifted past the physical file's header. */
class OpfsFileHandle implements FileHandle {
  readonly path: string;
  #pool: Pool;
  #file: PoolFile;
  #read: boolean;
  #write: boolean;
  #closed = false;

  constructor(pool: Pool, file: PoolFile, path: string, options: OpenOptions) {
    this.path = path;
    this.#pool = pool;
    this.#file = file;
    this.#write = options.write === true;
    this.#read = options.read === true || !this.#write;
  }

  #check(op: string, mode?: "reading" | "writing"): void {
    this.#pool.assertOpen(op, this.path);
    if (this.#closed) throw new IoError("io", op, this.path, "the file handle is closed");
    if (mode === "reading" && !this.#read) {
      throw new IoError("io", op, this.path, "the handle is not opened for reading");
    }
    if (mode === "writing" && !this.#write) {
      throw new IoError("io", op, this.path, "the handle is not opened for writing");
    }
  }

  read(buf: Uint8Array, position: number): number {
    this.#check("read", "reading");
    checkPosition(position, "read", this.path);
    return readFully(this.#file.handle, buf, HEADER_BYTES + position, this.path);
  }

  write(data: Uint8Array, position: number): void {
    this.#check("write", "writing");
    checkPosition(position, "write", this.path);
    writeFully(this.#file.handle, data, HEADER_BYTES + position, this.path);
  }

  size(): number {
    this.#check("size");
    try {
      return this.#file.logicalSize();
    } catch (err) {
      throw translate(err, "size", this.path);
    }
  }

  truncate(length: number): void {
    this.#check("truncate", "writing");
    checkPosition(length, "truncate", this.path);
    try {
      this.#file.handle.truncate(HEADER_BYTES + length);
    } catch (err) {
      throw translate(err, "truncate", this.path);
    }
  }

  #flush(op: string): void {
    this.#check(op);
    try {
      this.#file.handle.flush();
    } catch (err) {
      throw translate(err, op, this.path);
    }
  }

  syncData(): void {
    this.#flush("syncData");
  }

  sync(): void {
    this.#flush("sync");
  }

  syncDataAsync(): Promise<void> {
    try {
      this.#flush("syncData");
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  syncAsync(): Promise<void> {
    try {
      this.#flush("sync");
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  close(): void {
    this.#check("close");
    this.#closed = true;
    this.#pool.release(this.#file);
  }
}

/** Builds an instance around an opened pool; set in the class's static block. */
let fromPool: (pool: Pool) => OpfsFileSystem;

/**
 * The storage port on the Origin Private File System: a pool of OPFS files
 * with their sync access handles open, mapped onto the logical paths the
 * store uses (see the module documentation for the design). Obtain one with
 * {@linkcode OpfsFileSystem.open} in a dedicated worker, then pass it as
 * `fs` to `Store.open`.
 *
 * @example
 * ```ts ignore
 * import { OpfsFileSystem, Store } from "./dist/batpak.browser.js";
 * const fs = await OpfsFileSystem.open(); // the pool in OPFS directory "batpak"
 * const store = Store.open({ dataDir: "/", fs });
 * console.log(store.diagnostics().events);
 * store.close();
 * fs.close();
 * ```
 */
export class OpfsFileSystem implements FileSystem {
  #pool: Pool;
  #locks: Set<string> = new Set();

  static {
    fromPool = (pool) => new OpfsFileSystem(pool);
  }

  private constructor(pool: Pool) {
    this.#pool = pool;
  }

  /**
   * Open (creating when missing) the pool in OPFS directory `name` of this
   * origin, and take it for this worker. Dedicated workers only: sync
   * access handles exist nowhere else. Throws `StoreLockedError`
   * when another worker or tab has it, `StorageFullError` when
   * the quota leaves no room for the pool, {@linkcode IoError} otherwise
   * (also where OPFS is not available).
   *
   * @example
   * ```ts ignore
   * import { OpfsFileSystem, StoreLockedError } from "./dist/batpak.browser.js";
   * try {
   *   const fs = await OpfsFileSystem.open("notes");
   * } catch (e) {
   *   if (e instanceof StoreLockedError) console.log("open in another tab");
   * }
   * ```
   */
  static async open(
    name: string = OPFS_NAME_DEFAULT,
    options: OpfsOpenOptions = {},
  ): Promise<OpfsFileSystem> {
    const { spares, lockWaitMs, readAhead } = checkOptions(name, options);
    const dir = await openOpfsDirectory(name, lockWaitMs);
    return fromPool(await Pool.open(dir, { spares, readAhead }));
  }

  /** The OPFS directory of the pool, as `opfs:<name>`. */
  get label(): string {
    return this.#pool.dir.label;
  }

  /** Files, spares and counters of the pool. */
  stats(): PoolStats {
    return this.#pool.stats();
  }

  /**
   * Grow the pool until `spares` files are free, so that many files can be
   * created synchronously; await it before `store.snapshot(dir)`, which
   * creates one file per segment.
   *
   * @example
   * ```ts ignore
   * await fs.reserve(store.diagnostics().segments + 4);
   * store.snapshot("/backup");
   * ```
   */
  reserve(spares: number): Promise<void> {
    if (!Number.isSafeInteger(spares) || spares < 0) {
      return Promise.reject(
        new InvalidArgumentError(`reserve: spares must be a non-negative integer, got ${spares}`),
      );
    }
    try {
      this.#pool.assertOpen("reserve", this.label);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#pool.reserve(spares);
  }

  /** Wait until the pool's background growth queued so far has finished. */
  settled(): Promise<void> {
    return this.#pool.settled();
  }

  /**
   * Close every sync access handle and release the pool for other workers.
   * Idempotent. A background growth still in flight releases its new file
   * when it lands: await {@linkcode OpfsFileSystem.settled} after `close`
   * before removing the pool's directory.
   */
  close(): void {
    this.#pool.close();
    this.#locks.clear();
  }

  #key(path: string, op: string): string {
    this.#pool.assertOpen(op, String(path));
    if (typeof path !== "string" || path.includes("\0")) {
      throw new IoError("invalid_path", op, String(path), "a path is a string without NUL");
    }
    const key = normalizePath(path);
    if (encodePath(key) === undefined) {
      throw new IoError("invalid_path", op, path, `longer than ${PATH_BYTES_MAX} UTF-8 bytes`);
    }
    return key;
  }

  /** Throw unless directory `key` exists (`not_found`, or `not_a_directory` for a file). */
  #directory(key: string, op: string, path: string): void {
    if (this.#pool.isDirectory(key)) return;
    if (this.#pool.file(key) !== undefined) {
      throw new IoError("not_a_directory", op, path, "not a directory");
    }
    throw new IoError("not_found", op, path, "no such directory");
  }

  /** Open a file; `IoError` of kind `"not_found"`, `"already_exists"` or `"is_a_directory"`. */
  open(path: string, options: OpenOptions = RW_FLAGS_DEFAULT): FileHandle {
    const key = this.#key(path, "open");
    const pool = this.#pool;
    if (pool.isDirectory(key)) throw new IoError("is_a_directory", "open", path, "is a directory");
    this.#directory(parentPath(key), "open", path);
    let file = pool.file(key);
    if (file !== undefined && options.createNew) {
      throw new IoError("already_exists", "open", path, "the file exists (createNew)");
    }
    if (file === undefined) {
      if (!options.create && !options.createNew) {
        throw new IoError("not_found", "open", path, "no such file");
      }
      file = pool.allocate("file", key, "open");
    } else if (options.truncate) {
      try {
        file.handle.truncate(HEADER_BYTES);
      } catch (err) {
        throw translate(err, "open", path);
      }
    }
    file.openHandles++;
    return new OpfsFileHandle(pool, file, path, options);
  }

  /** Metadata for `path`, or `undefined` when it does not exist. */
  stat(path: string): FileInfo | undefined {
    const key = this.#key(path, "stat");
    if (this.#pool.isDirectory(key)) return { size: 0, isFile: false, isDirectory: true };
    const file = this.#pool.file(key);
    if (file === undefined) return undefined;
    try {
      return { size: file.logicalSize(), isFile: true, isDirectory: false };
    } catch (err) {
      throw translate(err, "stat", path);
    }
  }

  /** Names of the files and subdirectories of `path`, sorted. */
  readDir(path: string): string[] {
    const key = this.#key(path, "readDir");
    this.#directory(key, "readDir", path);
    return this.#pool.childNames(key);
  }

  /** Create `path` and its parents; no error when it exists. */
  mkdir(path: string): void {
    const key = this.#key(path, "mkdir");
    const pool = this.#pool;
    let at = 0;
    while (at < key.length) {
      const next = key.indexOf("/", at + 1);
      const prefix = next === -1 ? key : key.slice(0, next);
      at = next === -1 ? key.length : next;
      if (prefix === "/" || pool.entries.get(prefix)?.state?.kind === "directory") continue;
      if (pool.file(prefix) !== undefined) {
        throw new IoError("already_exists", "mkdir", prefix, "a file exists there");
      }
      // A marker makes the directory outlive its contents, as on a disk.
      pool.allocate("directory", prefix, "mkdir");
    }
  }

  /** Replace `to` with `from` (files only): one header write, durable when it returns. */
  rename(from: string, to: string): void {
    const fromKey = this.#key(from, "rename");
    const toKey = this.#key(to, "rename");
    const pool = this.#pool;
    const file = pool.file(fromKey);
    if (file === undefined) {
      if (pool.isDirectory(fromKey)) {
        throw new IoError(
          "is_a_directory",
          "rename",
          from,
          "renaming directories is not supported",
        );
      }
      throw new IoError("not_found", "rename", from, "no such file");
    }
    if (pool.isDirectory(toKey)) {
      throw new IoError("is_a_directory", "rename", to, "the destination is a directory");
    }
    this.#directory(parentPath(toKey), "rename", to);
    if (fromKey === toKey) return;
    pool.rename(file, fromKey, toKey);
  }

  /** Remove a file or empty directory; no error when it does not exist. */
  remove(path: string): void {
    const key = this.#key(path, "remove");
    const pool = this.#pool;
    if (key === "/") throw new IoError("permission_denied", "remove", path, "the root stays");
    if (pool.isDirectory(key) && pool.childNames(key).length > 0) {
      throw new IoError("io", "remove", path, "the directory is not empty");
    }
    pool.remove(key);
  }

  /**
   * Make the entries of directory `path` durable: nothing left to do, every
   * namespace change was flushed when it was made.
   */
  syncDir(path: string): void {
    const key = this.#key(path, "syncDir");
    this.#directory(key, "syncDir", path);
  }

  /** Take the lock of directory `path` for this worker; `undefined` while held. */
  lockDir(path: string): DirLock | undefined {
    const key = this.#key(path, "lockDir");
    this.#directory(key, "lockDir", path);
    if (this.#locks.has(key)) return undefined;
    this.#locks.add(key);
    const locks = this.#locks;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        locks.delete(key);
      },
    };
  }
}

/**
 * Open the pool in an already-opened {@linkcode PoolDirectory}: what
 * {@linkcode OpfsFileSystem.open} does after taking the OPFS directory.
 * For tests, which run the pool on an in-memory directory.
 */
export async function openOpfsOn(
  dir: PoolDirectory,
  options: OpfsOpenOptions = {},
): Promise<OpfsFileSystem> {
  const { spares, readAhead } = checkOptions("pool", options);
  return fromPool(await Pool.open(dir, { spares, readAhead }));
}

function checkOptions(
  name: string,
  options: OpfsOpenOptions,
): { spares: number; lockWaitMs: number; readAhead: ReadAheadOptions } {
  if (
    typeof name !== "string" || name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)
  ) {
    throw new IoError(
      "invalid_path",
      "open",
      String(name),
      "an OPFS pool name is one directory name: not empty, no '/', '\\' or NUL",
    );
  }
  const spares = options.spares ?? OPFS_SPARES_DEFAULT;
  const lockWaitMs = options.lockWaitMs ?? 0;
  if (!Number.isSafeInteger(spares) || spares < 1) {
    throw new InvalidArgumentError(`options.spares must be a positive integer, got ${spares}`);
  }
  if (!Number.isFinite(lockWaitMs) || lockWaitMs < 0) {
    throw new InvalidArgumentError(
      `options.lockWaitMs must be a non-negative number, got ${lockWaitMs}`,
    );
  }
  const windowBytes = options.readAheadBytes ?? READ_AHEAD_BYTES_DEFAULT;
  const windows = options.readAheadWindows ?? READ_AHEAD_WINDOWS_DEFAULT;
  if (!Number.isSafeInteger(windowBytes) || windowBytes < 0 || windowBytes > READ_AHEAD_BYTES_MAX) {
    throw new InvalidArgumentError(
      `options.readAheadBytes must be an integer from 0 to ${READ_AHEAD_BYTES_MAX}, ` +
        `got ${windowBytes}`,
    );
  }
  if (!Number.isSafeInteger(windows) || windows < 1) {
    throw new InvalidArgumentError(
      `options.readAheadWindows must be a positive integer, got ${windows}`,
    );
  }
  return { spares, lockWaitMs, readAhead: { windowBytes, windows } };
}

export type { PoolStats as OpfsPoolStats, ReadAheadStats as OpfsReadAheadStats };
