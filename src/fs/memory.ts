/**
 * A deterministic in-memory {@linkcode FileSystem} that models the page cache,
 * simulated crashes (optionally with torn writes) and injected faults, for
 * tests and simulation harnesses.
 *
 * @module
 */

import { IoError, StorageFullError } from "../core/errors.ts";
import { baseName, joinPath, normalizePath, parentPath } from "./path.ts";
import type { DirLock, FileHandle, FileInfo, FileSystem, OpenOptions } from "./types.ts";

/**
 * The operations a {@linkcode FaultInjector} is consulted on.
 *
 * @example
 * ```ts
 * import { type FsOpKind, MemoryFileSystem } from "@seed/batpak/testing";
 * const seen: FsOpKind[] = [];
 * const fsys = new MemoryFileSystem();
 * fsys.setFaultInjector((op) => {
 *   seen.push(op.kind);
 *   return undefined;
 * });
 * fsys.mkdir("/db");
 * fsys.open("/db/log", { write: true, create: true }).syncData();
 * console.log(seen); // [ "mkdir", "open", "syncData" ]
 * ```
 */
export type FsOpKind =
  | "open"
  | "read"
  | "write"
  | "truncate"
  | "sync"
  | "syncData"
  | "rename"
  | "remove"
  | "syncDir"
  | "mkdir";

/**
 * One file-system operation, as shown to a {@linkcode FaultInjector} before it runs.
 *
 * @example
 * ```ts
 * import { type FsOp, MemoryFileSystem } from "@seed/batpak/testing";
 * const ops: FsOp[] = [];
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * fsys.setFaultInjector((op) => {
 *   ops.push(op);
 *   return undefined;
 * });
 * fsys.open("/db/log", { write: true, create: true }).write(new Uint8Array(4), 0);
 * const write = ops.find((op) => op.kind === "write");
 * console.log(write?.path, write?.position, write?.length); // /db/log 0 4
 * ```
 */
export interface FsOp {
  /** Which operation; the async syncs report as `"sync"` / `"syncData"`. */
  readonly kind: FsOpKind;
  /** Normalised absolute posix path (for `rename`, the source). */
  readonly path: string;
  /** Byte offset, for `read` and `write`. */
  readonly position?: number;
  /** Bytes asked for (`read`), given (`write`), or the new size (`truncate`). */
  readonly length?: number;
  /** Destination path, for `rename`. */
  readonly to?: string;
  /** `true` for the async syncs (`syncAsync`, `syncDataAsync`). */
  readonly async?: boolean;
  /** Global operation counter of this file system, from 0: replay a fault by its number. */
  readonly seq: number;
}

/**
 * What goes wrong with one operation.
 *
 * - `{ error }`: the operation throws the port's error (`StorageFullError` for
 *   ENOSPC, `IoError` for EIO) whose `cause` is an {@linkcode InjectedFaultError}
 *   with that `code`, and has no effect (a failed write writes nothing). Any operation.
 * - `{ shortRead: n }`: the read returns at most `n` bytes. `read` only.
 * - `{ tornWrite: n }`: the first `n` bytes are written, then `EIO` is thrown. `write` only.
 * - `{ dropSync: true }`: the sync reports success but makes nothing durable
 *   (a lying disk). `sync`, `syncData` and `syncDir` only.
 *
 * A fault returned for an operation it does not apply to is a harness bug: a
 * `TypeError` is thrown.
 *
 * @example
 * ```ts
 * import { type FsFault, MemoryFileSystem } from "@seed/batpak/testing";
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const file = fsys.open("/db/log", { read: true, write: true, create: true });
 * file.write(new Uint8Array([1, 2, 3, 4]), 0);
 * const short: FsFault = { shortRead: 2 };
 * fsys.setFaultInjector((op) => (op.kind === "read" ? short : undefined));
 * console.log(file.read(new Uint8Array(4), 0)); // 2
 * ```
 */
export type FsFault =
  | { readonly error: "EIO" | "ENOSPC" }
  | { readonly shortRead: number }
  | { readonly tornWrite: number }
  | { readonly dropSync: true };

/**
 * Decides, per operation, whether to inject a fault; `undefined` lets it run normally.
 *
 * @example
 * ```ts
 * import { type FaultInjector, MemoryFileSystem } from "@seed/batpak/testing";
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const file = fsys.open("/db/log", { write: true, create: true });
 * const lyingDisk: FaultInjector = (op) => (op.kind === "syncData" ? { dropSync: true } : undefined);
 * fsys.setFaultInjector(lyingDisk);
 * file.write(new Uint8Array([1, 2, 3]), 0);
 * file.syncData(); // reports success, makes nothing durable
 * fsys.syncDir("/db");
 * console.log(fsys.crash().readFile("/db/log").length); // 0
 * ```
 */
export type FaultInjector = (op: FsOp) => FsFault | undefined;

/**
 * Options for {@linkcode MemoryFileSystem.crash}.
 *
 * @example
 * ```ts
 * import { type CrashOptions, MemoryFileSystem } from "@seed/batpak/testing";
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const file = fsys.open("/db/log", { write: true, create: true });
 * fsys.syncDir("/db");
 * file.write(new Uint8Array(100), 0); // never synced
 * const options: CrashOptions = { tornWrites: true, seed: 7 };
 * const size = fsys.crash(options).readFile("/db/log").length;
 * console.log(size <= 100); // true: some prefix of the unsynced bytes may survive
 * ```
 */
export interface CrashOptions {
  /** Seed for the torn-write choices; the same seed and history give the same disk. Default 0. */
  seed?: number;
  /**
   * Let a seeded-random prefix of each file's unsynced bytes survive, as when
   * writes reach the disk in order but not all of them. Default `false`:
   * exactly the durable state survives.
   */
  tornWrites?: boolean;
}

/**
 * Operation counters of a {@linkcode MemoryFileSystem}.
 *
 * @example
 * ```ts
 * import { MemoryFileSystem, type MemoryFsStats } from "@seed/batpak/testing";
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const file = fsys.open("/db/log", { write: true, create: true });
 * file.write(new Uint8Array(10), 0);
 * file.syncData();
 * const stats: MemoryFsStats = fsys.stats;
 * console.log(stats.writes, stats.bytesWritten, stats.syncs); // 1 10 1
 * ```
 */
export interface MemoryFsStats {
  /** Successful `open` calls. */
  opens: number;
  /** Successful `read` calls. */
  reads: number;
  /** `write` calls that wrote bytes (torn writes included). */
  writes: number;
  /** Bytes written by `write`. */
  bytesWritten: number;
  /** File syncs reported as successful (`sync`, `syncData` and the async forms). */
  syncs: number;
  /** Directory syncs reported as successful. */
  dirSyncs: number;
}

/**
 * The `cause` of the error an `{ error }` or `{ tornWrite }` fault throws; `code` is `"EIO"` or
 * `"ENOSPC"`. The thrown error itself is the port's: `StorageFullError` for ENOSPC, else `IoError`.
 *
 * @example
 * ```ts
 * import { InjectedFaultError, MemoryFileSystem } from "@seed/batpak/testing";
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const file = fsys.open("/db/log", { write: true, create: true });
 * fsys.setFaultInjector((op) => (op.kind === "write" ? { error: "ENOSPC" } : undefined));
 * try {
 *   file.write(new Uint8Array(1), 0);
 * } catch (e) {
 *   const fault = (e as Error).cause;
 *   if (fault instanceof InjectedFaultError) console.log(fault.code, fault.op.kind); // ENOSPC write
 * }
 * ```
 */
export class InjectedFaultError extends Error {
  /** The errno-style code, as on Node and Deno I/O errors. */
  readonly code: "EIO" | "ENOSPC";
  /** The operation the fault was injected into. */
  readonly op: FsOp;

  /** Build the error for `op`; `detail` says what happened beyond the code. */
  constructor(code: "EIO" | "ENOSPC", op: FsOp, detail = "injected fault") {
    super(`${code}: ${op.kind} '${op.path}' failed (${detail}, op #${op.seq})`);
    this.name = "InjectedFaultError";
    this.code = code;
    this.op = op;
  }
}

/**
 * Thrown by every call on a {@linkcode MemoryFileSystem}, or on a handle it
 * opened, after its {@linkcode MemoryFileSystem.crash}: the process is dead.
 *
 * @example
 * ```ts
 * import { MemoryFileSystem, SimulatedCrashError } from "@seed/batpak/testing";
 * const before = new MemoryFileSystem();
 * before.mkdir("/db");
 * const after = before.crash(); // carry on with `after`
 * try {
 *   before.stat("/db");
 * } catch (e) {
 *   console.log(e instanceof SimulatedCrashError, after.stat("/db")?.isDirectory); // true true
 * }
 * ```
 */
export class SimulatedCrashError extends IoError {
  /** Build the error for operation `op` on `path`. */
  constructor(op: string, path: string) {
    super("io", op, path, "this MemoryFileSystem crashed; use the instance crash() returned");
  }
}

/** The port's error for an injected fault: `StorageFullError` for ENOSPC, else `IoError`. */
function portError(fault: InjectedFaultError): IoError | StorageFullError {
  return fault.code === "ENOSPC"
    ? new StorageFullError(fault.op.kind, fault.op.path, { cause: fault })
    : new IoError("io", fault.op.kind, fault.op.path, fault.message, { cause: fault });
}

/** First allocation of a file buffer; later growth doubles. */
const INITIAL_CAPACITY_BYTES = 256;
/** `dirtyFrom` of a file with nothing written since its last sync. */
const CLEAN = Number.POSITIVE_INFINITY;
/** Divisor turning a uint32 into a float in [0, 1). */
const UINT32_RANGE = 2 ** 32;
/** What a `flipByte` corruption xors into the byte. */
const FLIP_MASK = 0xff;
const ROOT = "/";

/** mulberry32: a tiny seeded PRNG, so a crash is replayable from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / UINT32_RANGE;
  };
}

/** A buffer holding at least `needed` bytes, keeping the first `keep`; doubles to amortise appends. */
function grow(buf: Uint8Array, keep: number, needed: number): Uint8Array {
  if (needed <= buf.length) return buf;
  let capacity = Math.max(buf.length * 2, INITIAL_CAPACITY_BYTES);
  while (capacity < needed) capacity *= 2;
  const next = new Uint8Array(capacity);
  next.set(buf.subarray(0, keep));
  return next;
}

function normalize(path: string): string {
  return normalizePath(path);
}

function checkPosition(position: number, op: string, path: string): void {
  // node:fs treats -1 as "the current offset": reject it here too, so both backends agree.
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new IoError("io", op, path, `position must be a non-negative integer, got ${position}`);
  }
}

/**
 * File contents, shared by every name and handle that refer to it.
 *
 * Invariant: bytes below `min(dirtyFrom, size, durableSize)` are equal in
 * `data` and `durable`, and `dirtyFrom <= min(size, durableSize)` when dirty,
 * so a sync copies only the dirty tail.
 */
class Inode {
  data: Uint8Array = new Uint8Array(0);
  size = 0;
  durable: Uint8Array = new Uint8Array(0);
  durableSize = 0;
  dirtyFrom = CLEAN;
  /** One past the highest byte written or cut since the last sync. */
  dirtyTo = 0;

  static fromBytes(bytes: Uint8Array): Inode {
    const inode = new Inode();
    inode.data = bytes.slice();
    inode.size = bytes.length;
    inode.durable = bytes.slice();
    inode.durableSize = bytes.length;
    return inode;
  }

  #touch(from: number, to: number): void {
    if (from < this.dirtyFrom) this.dirtyFrom = from;
    if (to > this.dirtyTo) this.dirtyTo = to;
  }

  write(src: Uint8Array, position: number): void {
    if (src.length === 0) return;
    const end = position + src.length;
    this.data = grow(this.data, this.size, end);
    // Bytes past `size` may be stale from an earlier shrink: a hole reads as zeros.
    if (position > this.size) this.data.fill(0, this.size, position);
    this.data.set(src, position);
    this.#touch(Math.min(position, this.size), end);
    if (end > this.size) this.size = end;
  }

  truncate(length: number): void {
    if (length === this.size) return;
    if (length > this.size) {
      this.data = grow(this.data, this.size, length);
      this.data.fill(0, this.size, length);
    }
    this.#touch(Math.min(length, this.size), Math.max(length, this.size));
    this.size = length;
  }

  sync(): void {
    if (this.dirtyFrom === CLEAN) return;
    this.durable = grow(this.durable, this.durableSize, this.size);
    // Only the written range changed: bytes past it already match (a preallocated tail can be large).
    const end = Math.min(this.size, this.dirtyTo);
    if (end > this.dirtyFrom) {
      this.durable.set(this.data.subarray(this.dirtyFrom, end), this.dirtyFrom);
    }
    this.durableSize = this.size;
    this.dirtyFrom = CLEAN;
    this.dirtyTo = 0;
  }

  /** The contents a crash leaves: the durable bytes, plus with `random` a prefix of the dirty tail. */
  afterCrash(random: (() => number) | undefined): Inode {
    let size = this.durableSize;
    let kept = 0;
    if (random !== undefined && this.dirtyFrom !== CLEAN) {
      // Writes reach the disk in order: a prefix of what was written since the last sync.
      const dirtyEnd = Math.min(this.size, this.dirtyTo);
      kept = Math.floor(random() * (Math.max(0, dirtyEnd - this.dirtyFrom) + 1));
      size = Math.max(size, this.dirtyFrom + kept);
    }
    const bytes = new Uint8Array(size);
    bytes.set(this.durable.subarray(0, this.durableSize));
    if (kept > 0) {
      bytes.set(this.data.subarray(this.dirtyFrom, this.dirtyFrom + kept), this.dirtyFrom);
    }
    return Inode.fromBytes(bytes);
  }
}

/** A directory: its live entries and the entries as of its last `syncDir`. */
interface Dir {
  files: Map<string, Inode>;
  durableFiles: Map<string, Inode>;
  subdirs: Set<string>;
}

function newDir(): Dir {
  return { files: new Map(), durableFiles: new Map(), subdirs: new Set() };
}

/** The state of one simulated machine; a crash kills it and starts a fresh one. */
class Kernel {
  dirs: Map<string, Dir> = new Map([[ROOT, newDir()]]);
  dead = false;
  seq = 0;
  injector: FaultInjector | undefined;
  /** The operation the last returned fault was injected into. */
  faultOp: FsOp | undefined;
  stats: MemoryFsStats = { opens: 0, reads: 0, writes: 0, bytesWritten: 0, syncs: 0, dirSyncs: 0 };
  /** Directories whose lock is held (a crash releases them all: the holder died). */
  readonly dirLocks: Set<string> = new Set();

  assertAlive(op: string, path: string): void {
    if (this.dead) throw new SimulatedCrashError(op, path);
  }

  /** Count the operation and consult the injector; throws for an `{ error }` fault. */
  begin(
    kind: FsOpKind,
    path: string,
    position?: number,
    length?: number,
    to?: string,
    async?: boolean,
  ): FsFault | undefined {
    this.assertAlive(kind, path);
    const seq = this.seq++;
    if (this.injector === undefined) return undefined;
    const op: FsOp = async ? { kind, path, seq, async } : { kind, path, seq, position, length, to };
    const fault = this.injector(op);
    if (fault === undefined) return undefined;
    this.faultOp = op;
    if ("error" in fault) throw portError(new InjectedFaultError(fault.error, op));
    const applies = "shortRead" in fault
      ? kind === "read"
      : "tornWrite" in fault
      ? kind === "write"
      : kind === "sync" || kind === "syncData" || kind === "syncDir";
    if (!applies) {
      throw new TypeError(
        `fault ${JSON.stringify(fault)} does not apply to a '${kind}' (op #${seq} on '${path}')`,
      );
    }
    return fault;
  }

  /** The directory `path` must already be: NotFound / NotADirectory otherwise. */
  dir(path: string, op: string): Dir {
    const dir = this.dirs.get(path);
    if (dir !== undefined) return dir;
    if (this.file(path) !== undefined) {
      throw new IoError("not_a_directory", op, path, "not a directory");
    }
    throw new IoError("not_found", op, path, "no such directory");
  }

  file(path: string): Inode | undefined {
    if (path === ROOT) return undefined;
    return this.dirs.get(parentPath(path))?.files.get(baseName(path));
  }

  /** Directory creation is durable at once (see the class doc of MemoryFileSystem). */
  mkdirs(path: string, op: string): void {
    if (this.dirs.has(path)) return;
    if (this.file(path) !== undefined) {
      throw new IoError("already_exists", op, path, "a file exists there");
    }
    const parent = parentPath(path);
    this.mkdirs(parent, op);
    this.dirs.get(parent)!.subdirs.add(baseName(path));
    this.dirs.set(path, newDir());
  }

  crash(options: CrashOptions): Kernel {
    const next = new Kernel();
    const random = options.tornWrites ? mulberry32(options.seed ?? 0) : undefined;
    // One copy per inode, so two durable names of one file stay one file.
    const copies = new Map<Inode, Inode>();
    // Sorted walk: the PRNG draws must not depend on insertion order.
    for (const path of [...this.dirs.keys()].sort()) {
      const dir = this.dirs.get(path)!;
      const copy = newDir();
      for (const name of dir.subdirs) copy.subdirs.add(name);
      for (const name of [...dir.durableFiles.keys()].sort()) {
        const inode = dir.durableFiles.get(name)!;
        let survivor = copies.get(inode);
        if (survivor === undefined) {
          survivor = inode.afterCrash(random);
          copies.set(inode, survivor);
        }
        copy.files.set(name, survivor);
        copy.durableFiles.set(name, survivor);
      }
      next.dirs.set(path, copy);
    }
    this.dead = true;
    return next;
  }
}

class MemoryFileHandle implements FileHandle {
  readonly path: string;
  #kernel: Kernel;
  #inode: Inode;
  #key: string;
  #read: boolean;
  #write: boolean;
  #closed = false;

  constructor(kernel: Kernel, path: string, key: string, inode: Inode, options: OpenOptions) {
    this.path = path;
    this.#kernel = kernel;
    this.#key = key;
    this.#inode = inode;
    this.#write = options.write === true;
    this.#read = options.read === true || !this.#write;
  }

  #check(op: string): void {
    this.#kernel.assertAlive(op, this.#key);
    if (this.#closed) {
      throw new IoError("io", op, this.path, "the file handle is closed");
    }
  }

  #checkMode(op: string, allowed: boolean, mode: string): void {
    if (!allowed) {
      throw new IoError("io", op, this.path, `the handle is not opened for ${mode}`);
    }
  }

  read(buf: Uint8Array, position: number): number {
    this.#check("read");
    this.#checkMode("read", this.#read, "reading");
    checkPosition(position, "read", this.path);
    const fault = this.#kernel.begin("read", this.#key, position, buf.length);
    const inode = this.#inode;
    let n = Math.max(0, Math.min(buf.length, inode.size - position));
    if (fault !== undefined && "shortRead" in fault) n = Math.min(n, fault.shortRead);
    buf.set(inode.data.subarray(position, position + n));
    this.#kernel.stats.reads++;
    return n;
  }

  write(data: Uint8Array, position: number): void {
    this.#check("write");
    this.#checkMode("write", this.#write, "writing");
    checkPosition(position, "write", this.path);
    const kernel = this.#kernel;
    const fault = kernel.begin("write", this.#key, position, data.length);
    if (fault !== undefined && "tornWrite" in fault) {
      const kept = Math.max(0, Math.min(fault.tornWrite, data.length));
      this.#inode.write(data.subarray(0, kept), position);
      kernel.stats.writes++;
      kernel.stats.bytesWritten += kept;
      const detail = `torn write: ${kept} of ${data.length} bytes written`;
      throw portError(new InjectedFaultError("EIO", kernel.faultOp!, detail));
    }
    this.#inode.write(data, position);
    kernel.stats.writes++;
    kernel.stats.bytesWritten += data.length;
  }

  size(): number {
    this.#check("size");
    return this.#inode.size;
  }

  truncate(length: number): void {
    this.#check("truncate");
    this.#checkMode("truncate", this.#write, "writing");
    checkPosition(length, "truncate", this.path);
    this.#kernel.begin("truncate", this.#key, undefined, length);
    this.#inode.truncate(length);
  }

  #sync(kind: "sync" | "syncData", async = false): void {
    this.#check(kind);
    const fault = this.#kernel.begin(kind, this.#key, undefined, undefined, undefined, async);
    // File size is part of what fdatasync persists, so both kinds persist the same here.
    if (fault === undefined) this.#inode.sync();
    this.#kernel.stats.syncs++;
  }

  syncData(): void {
    this.#sync("syncData");
  }

  sync(): void {
    this.#sync("sync");
  }

  syncDataAsync(): Promise<void> {
    try {
      this.#sync("syncData", true);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve();
  }

  syncAsync(): Promise<void> {
    try {
      this.#sync("sync", true);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve();
  }

  close(): void {
    this.#check("close");
    this.#closed = true;
  }
}

/**
 * A deterministic in-memory {@linkcode FileSystem} for tests and simulation.
 *
 * The crash model:
 * - Each file has `current` contents (what reads see) and `durable` contents
 *   (as of its last successful `sync`/`syncData`, sync or async).
 * - Each directory has live entries and durable entries (as of its last
 *   `syncDir`): a file created, renamed over or removed since then reverts on
 *   a crash, so a new file not dir-synced vanishes and an unsynced rename
 *   undoes itself. Directories themselves (`mkdir`, removing an empty one)
 *   are durable at once, a simplification: the store creates its directories
 *   once, at open.
 * - {@linkcode MemoryFileSystem.crash} returns a new instance holding only the
 *   durable state (no locks, no open handles, no fault injector, fresh
 *   counters); this instance and its handles then throw
 *   {@linkcode SimulatedCrashError}. With `tornWrites`, each file also keeps a
 *   seeded-random prefix of its bytes written since the last sync, starting
 *   at the lowest unsynced offset.
 * - {@linkcode MemoryFileSystem.setFaultInjector} can fail, shorten, tear or
 *   silently drop individual operations, chosen by their sequence number.
 *
 * Paths are normalised as absolute posix paths (`"a/b"` is `"/a/b"`). Locks
 * follow `flock`: `lockDir` is exclusive per directory, released by `release` or a crash.
 * Nothing here reads a clock or `Math.random`; async syncs settle on a
 * microtask. The test helpers (`readFile`, `writeFile`, `flipByte`,
 * `listFiles`) bypass fault injection and counters.
 *
 * @example Unsynced data is lost in a crash
 * ```ts
 * import { MemoryFileSystem } from "./memory.ts";
 *
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const file = fsys.open("/db/log", { write: true, create: true });
 * file.write(new Uint8Array([1, 2, 3]), 0);
 * file.syncData();
 * fsys.syncDir("/db");
 * file.write(new Uint8Array([4]), 3);
 * const after = fsys.crash();
 * console.assert(after.readFile("/db/log").length === 3);
 * ```
 */
export class MemoryFileSystem implements FileSystem {
  #kernel: Kernel = new Kernel();

  /** Open a file; `IoError` of kind `"not_found"`, `"already_exists"` or `"is_a_directory"`. */
  open(path: string, options: OpenOptions): FileHandle {
    const key = normalize(path);
    const kernel = this.#kernel;
    kernel.begin("open", key);
    if (kernel.dirs.has(key)) throw new IoError("is_a_directory", "open", path, "is a directory");
    const parent = kernel.dir(parentPath(key), `open '${path}': parent`);
    const name = baseName(key);
    let inode = parent.files.get(name);
    if (inode !== undefined && options.createNew) {
      throw new IoError("already_exists", "open", path, "the file exists (createNew)");
    }
    if (inode === undefined) {
      if (!options.create && !options.createNew) {
        throw new IoError("not_found", "open", path, "no such file");
      }
      inode = new Inode();
      parent.files.set(name, inode);
    } else if (options.truncate) {
      inode.truncate(0);
    }
    kernel.stats.opens++;
    return new MemoryFileHandle(kernel, path, key, inode, options);
  }

  /** Metadata for `path`, or `undefined` when it does not exist. */
  stat(path: string): FileInfo | undefined {
    const key = normalize(path);
    this.#kernel.assertAlive("stat", key);
    if (this.#kernel.dirs.has(key)) return { size: 0, isFile: false, isDirectory: true };
    const inode = this.#kernel.file(key);
    if (inode === undefined) return undefined;
    return { size: inode.size, isFile: true, isDirectory: false };
  }

  /** Names of the files and subdirectories of `path`, sorted. */
  readDir(path: string): string[] {
    const key = normalize(path);
    this.#kernel.assertAlive("readDir", key);
    const dir = this.#kernel.dir(key, "readDir");
    return [...dir.files.keys(), ...dir.subdirs].sort();
  }

  /** Create `path` and its parents; no error when it exists. */
  mkdir(path: string): void {
    const key = normalize(path);
    this.#kernel.begin("mkdir", key);
    this.#kernel.mkdirs(key, "mkdir");
  }

  /** Replace `to` with `from` (files only); durable after `syncDir` of both parents. */
  rename(from: string, to: string): void {
    const fromKey = normalize(from);
    const toKey = normalize(to);
    const kernel = this.#kernel;
    kernel.begin("rename", fromKey, undefined, undefined, toKey);
    if (kernel.dirs.has(fromKey)) {
      throw new IoError("is_a_directory", "rename", from, "renaming directories is not simulated");
    }
    const inode = kernel.file(fromKey);
    if (inode === undefined) throw new IoError("not_found", "rename", from, "no such file");
    if (kernel.dirs.has(toKey)) {
      throw new IoError("is_a_directory", "rename", to, "the destination is a directory");
    }
    const toDir = kernel.dir(parentPath(toKey), `rename to '${to}': parent`);
    if (fromKey === toKey) return;
    kernel.dirs.get(parentPath(fromKey))!.files.delete(baseName(fromKey));
    toDir.files.set(baseName(toKey), inode);
  }

  /** Remove a file or empty directory; no error when it does not exist. */
  remove(path: string): void {
    const key = normalize(path);
    const kernel = this.#kernel;
    kernel.begin("remove", key);
    const dir = kernel.dirs.get(key);
    if (dir !== undefined) {
      if (key === ROOT) throw new IoError("permission_denied", "remove", path, "the root stays");
      if (dir.files.size > 0 || dir.subdirs.size > 0) {
        throw new IoError("io", "remove", path, "the directory is not empty");
      }
      kernel.dirs.delete(key);
      kernel.dirs.get(parentPath(key))!.subdirs.delete(baseName(key));
      return;
    }
    kernel.dirs.get(parentPath(key))?.files.delete(baseName(key));
  }

  /** Take the lock of directory `path`; `undefined` while another holder has it. */
  lockDir(path: string): DirLock | undefined {
    const key = normalize(path);
    const kernel = this.#kernel;
    kernel.assertAlive("lockDir", key);
    kernel.dir(key, "lockDir");
    if (kernel.dirLocks.has(key)) return undefined;
    kernel.dirLocks.add(key);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        if (!kernel.dead) kernel.dirLocks.delete(key);
      },
    };
  }

  /** Make the entries of directory `path` durable. */
  syncDir(path: string): void {
    const key = normalize(path);
    const fault = this.#kernel.begin("syncDir", key);
    const dir = this.#kernel.dir(key, "syncDir");
    if (fault === undefined) dir.durableFiles = new Map(dir.files);
    this.#kernel.stats.dirSyncs++;
  }

  /**
   * Simulate a power loss: returns a new file system holding only what was
   * durable; this instance and its handles are dead from now on.
   */
  crash(options: CrashOptions = {}): MemoryFileSystem {
    this.#kernel.assertAlive("crash", ROOT);
    const next = new MemoryFileSystem();
    next.#kernel = this.#kernel.crash(options);
    return next;
  }

  /** Install (or, with no argument, remove) the fault injector consulted before each operation. */
  setFaultInjector(injector?: FaultInjector): void {
    this.#kernel.assertAlive("setFaultInjector", ROOT);
    this.#kernel.injector = injector;
  }

  /** A snapshot of the operation counters. */
  get stats(): MemoryFsStats {
    this.#kernel.assertAlive("stats", ROOT);
    return { ...this.#kernel.stats };
  }

  /** A copy of the current contents of file `path`; throws `NotFound`. */
  readFile(path: string): Uint8Array {
    const inode = this.#existing(path, "readFile");
    return inode.data.slice(0, inode.size);
  }

  /** Create or replace file `path` (and its parent directories), durable at once. */
  writeFile(path: string, data: Uint8Array): void {
    const key = normalize(path);
    this.#kernel.assertAlive("writeFile", key);
    const dirPath = parentPath(key);
    this.#kernel.mkdirs(dirPath, "writeFile");
    const dir = this.#kernel.dirs.get(dirPath)!;
    const name = baseName(key);
    const existing = dir.files.get(name);
    if (existing !== undefined) {
      // In place, so open handles see it, as after a real truncate-and-write.
      existing.truncate(0);
      existing.write(data, 0);
      existing.sync();
    } else {
      dir.files.set(name, Inode.fromBytes(data));
    }
    dir.durableFiles.set(name, dir.files.get(name)!);
  }

  /** Corrupt file `path` by xoring 0xff into the byte at `offset`, in current and durable contents. */
  flipByte(path: string, offset: number): void {
    const inode = this.#existing(path, "flipByte");
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= inode.size) {
      throw new RangeError(
        `flipByte '${path}': offset ${offset} outside the file (size ${inode.size})`,
      );
    }
    inode.data[offset] ^= FLIP_MASK;
    if (offset < inode.durableSize) inode.durable[offset] ^= FLIP_MASK;
  }

  /** Paths of all files (not directories), sorted. */
  listFiles(): string[] {
    this.#kernel.assertAlive("listFiles", ROOT);
    const paths: string[] = [];
    for (const [dirPath, dir] of this.#kernel.dirs) {
      for (const name of dir.files.keys()) paths.push(joinPath(dirPath, name));
    }
    return paths.sort();
  }

  #existing(path: string, op: string): Inode {
    const key = normalize(path);
    this.#kernel.assertAlive(op, key);
    const inode = this.#kernel.file(key);
    if (inode === undefined) throw new IoError("not_found", op, path, "no such file");
    return inode;
  }
}
