/**
 * The narrow storage interface every byte of the store goes through.
 *
 * Two implementations ship: {@linkcode DenoFileSystem} (the real disk) and
 * {@linkcode MemoryFileSystem} (a simulation that models the page cache: data
 * not yet synced is lost on a simulated crash, and faults can be injected).
 *
 * @module
 */

/**
 * How to open a file.
 *
 * @example
 * ```ts
 * import { MemoryFileSystem, type OpenOptions } from "@seed/batpak";
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
  /** Fail with `AlreadyExists` when the file exists (implies create). */
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
  /**
   * Try to take an exclusive advisory lock; `false` when another handle, in
   * this or another process, holds it.
   */
  tryLock(): boolean;
  /** Release the lock taken by {@linkcode FileHandle.tryLock}. */
  unlock(): void;
  /** Close the handle. */
  close(): void;
}

/**
 * The storage backend: a directory tree of files.
 *
 * @example
 * ```ts
 * import { type FileSystem, MemoryFileSystem, Store } from "@seed/batpak";
 * const fs: FileSystem = new MemoryFileSystem(); // or new DenoFileSystem(), the default
 * const store = Store.open({ dataDir: "/db", fs });
 * store.close();
 * console.log(fs.readDir("/db").includes("000001.fbat")); // true
 * ```
 */
export interface FileSystem {
  /** Open a file. Throws `Deno.errors.NotFound` / `AlreadyExists` like Deno does. */
  open(path: string, options: OpenOptions): FileHandle;
  /** Metadata, or `undefined` when the path does not exist. */
  stat(path: string): FileInfo | undefined;
  /** Names (not paths) of the entries of a directory, sorted. */
  readDir(path: string): string[];
  /** Create a directory and its parents; no error when it exists. */
  mkdir(path: string): void;
  /** Atomically replace `to` with `from`. */
  rename(from: string, to: string): void;
  /** Remove a file; no error when it does not exist. */
  remove(path: string): void;
  /** Make the directory's entries (creations, renames, removals) durable. */
  syncDir(path: string): void;
}
