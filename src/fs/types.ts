/**
 * The storage port: the narrow, runtime-neutral interface every byte of the
 * store goes through. The engine above it is web-standard TypeScript; an
 * implementation adapts one runtime's storage to it.
 *
 * Shape, and why: byte-range file handles (`read`/`write`/`truncate`/`sync`
 * at a position) plus a handful of directory operations, all synchronous.
 * An append returns its receipt synchronously, so everything on the append
 * path (writes, the rotation to a new segment, a checkpoint sidecar) must be
 * synchronous too. Runtimes whose storage has asynchronous parts do those up
 * front, in their own async factory, before the store opens (the Origin
 * Private File System implementation opens a pool of synchronous access
 * handles there, the way SQLite's `opfs-sahpool` VFS does), so the port
 * itself never waits.
 *
 * Three implementations ship: `DenoFileSystem` (the real disk, the default
 * on Deno), `MemoryFileSystem` (a simulation with crashes and fault
 * injection, from `@seed/batpak/testing`) and `OpfsFileSystem` (browsers).
 *
 * Errors: every method throws only {@linkcode IoError} (its `kind` says how
 * it failed: `"not_found"`, `"already_exists"`, ...) or
 * {@linkcode StorageFullError} (no space, or a storage quota), with the
 * runtime's own error as `cause`. Paths are `/`-separated strings.
 *
 * @module
 */

import type { IoError, StorageFullError } from "../core/errors.ts";

/** The errors a storage operation may throw. */
export type StorageError = IoError | StorageFullError;

/**
 * How to open a file.
 *
 * @example
 * ```ts
 * import type { OpenOptions } from "@seed/batpak";
 * import { MemoryFileSystem } from "@seed/batpak/testing";
 * const fsys = new MemoryFileSystem();
 * fsys.mkdir("/db");
 * const options: OpenOptions = { read: true, write: true, createNew: true };
 * fsys.open("/db/new", options).close();
 * console.log(fsys.stat("/db/new")?.isFile); // true
 * ```
 */
export interface OpenOptions {
  /** Open for reading. */
  read?: boolean;
  /** Open for writing. */
  write?: boolean;
  /** Create the file when missing. */
  create?: boolean;
  /** Fail with an `IoError` of kind `"already_exists"` when the file exists (implies create). */
  createNew?: boolean;
  /** Truncate the file to zero bytes on open. */
  truncate?: boolean;
}

/**
 * Metadata for one path.
 *
 * @example
 * ```ts
 * import { DenoFileSystem, type FileInfo } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const info: FileInfo | undefined = new DenoFileSystem().stat(dir);
 * console.log(info?.isDirectory); // true
 * ```
 */
export interface FileInfo {
  /** Size in bytes (0 for directories). */
  size: number;
  /** True for a regular file. */
  isFile: boolean;
  /** True for a directory. */
  isDirectory: boolean;
}

/**
 * An open file. All positions and lengths are in bytes.
 *
 * @example
 * ```ts
 * import { DenoFileSystem, type FileHandle } from "@seed/batpak";
 * const path = `${Deno.makeTempDirSync()}/data`;
 * const file: FileHandle = new DenoFileSystem().open(path, { read: true, write: true, create: true });
 * file.write(new Uint8Array([1, 2, 3]), 0);
 * file.syncData();
 * const back = new Uint8Array(3);
 * console.log(file.read(back, 0), back); // 3 Uint8Array(3) [ 1, 2, 3 ]
 * file.close();
 * ```
 */
export interface FileHandle {
  /** The path the file was opened with. */
  readonly path: string;
  /**
   * Read up to `buf.length` bytes at `position` into `buf`; returns the number
   * of bytes read, which is short only at end of file (0 past the end).
   */
  read(buf: Uint8Array, position: number): number;
  /** Write all of `data` at `position` (a positional write; never short). */
  write(data: Uint8Array, position: number): void;
  /** Current size of the file. */
  size(): number;
  /** Cut or extend the file to `length` bytes. */
  truncate(length: number): void;
  /** Flush file data (fdatasync), blocking. */
  syncData(): void;
  /** Flush file data and metadata (fsync), blocking. */
  sync(): void;
  /** Flush file data (fdatasync) without blocking the event loop. */
  syncDataAsync(): Promise<void>;
  /** Flush file data and metadata (fsync) without blocking the event loop. */
  syncAsync(): Promise<void>;
  /** Close the handle. */
  close(): void;
}

/**
 * An exclusive lock on a directory, held until released (or the process
 * ends). Taken on the directory itself, not on a file in it, so deleting a
 * file cannot hand a second writer the store.
 *
 * @example
 * ```ts
 * import { DenoFileSystem, type DirLock } from "@seed/batpak";
 * const fsys = new DenoFileSystem();
 * const dir = Deno.makeTempDirSync();
 * const lock: DirLock | undefined = fsys.lockDir(dir);
 * console.log(lock !== undefined, fsys.lockDir(dir)); // true undefined
 * lock?.release();
 * ```
 */
export interface DirLock {
  /** Release the lock. Idempotent. */
  release(): void;
}

/**
 * The storage backend: a directory tree of files.
 *
 * @example
 * ```ts
 * import { type FileSystem, Store } from "@seed/batpak";
 * import { MemoryFileSystem } from "@seed/batpak/testing";
 * const fs: FileSystem = new MemoryFileSystem(); // or new DenoFileSystem(), the default
 * const store = Store.open({ dataDir: "/db", fs });
 * store.close();
 * console.log(fs.readDir("/db").includes("000001.fbat")); // true
 * ```
 */
export interface FileSystem {
  /** Open a file. */
  open(path: string, options: OpenOptions): FileHandle;
  /** Metadata, or `undefined` when the path does not exist. */
  stat(path: string): FileInfo | undefined;
  /** Names (not paths) of the entries of a directory, sorted. */
  readDir(path: string): string[];
  /** Create a directory and its parents; no error when it exists. */
  mkdir(path: string): void;
  /** Atomically replace `to` with `from` (files). Durable after {@linkcode FileSystem.syncDir}. */
  rename(from: string, to: string): void;
  /** Remove a file (or an empty directory); no error when it does not exist. */
  remove(path: string): void;
  /** Make the directory's entries (creations, renames, removals) durable. */
  syncDir(path: string): void;
  /**
   * Take the exclusive lock of directory `path` (which must exist), or
   * return `undefined` when another holder — in this or another process —
   * has it.
   */
  lockDir(path: string): DirLock | undefined;
}
