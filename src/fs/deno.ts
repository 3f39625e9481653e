/**
 * The real-disk {@linkcode FileSystem}: positional I/O through `node:fs` file
 * descriptors (pread/pwrite, so appends need no seek), flock through
 * `Deno.FsFile`, directory operations through the `Deno` namespace.
 *
 * @module
 */

import * as fs from "node:fs";
import type { FileHandle, FileInfo, FileSystem, OpenOptions } from "./types.ts";

/** Node-style error codes mapped to the `Deno.errors` class callers catch. */
const DENO_ERROR_BY_CODE: Readonly<Record<string, new (message: string) => Error>> = {
  ENOENT: Deno.errors.NotFound,
  EEXIST: Deno.errors.AlreadyExists,
  EACCES: Deno.errors.PermissionDenied,
  EPERM: Deno.errors.PermissionDenied,
  EISDIR: Deno.errors.IsADirectory,
  ENOTDIR: Deno.errors.NotADirectory,
  EBADF: Deno.errors.BadResource,
};

/** Errors some platforms raise for fsync on a directory; nothing to make durable there. */
const DIR_SYNC_UNSUPPORTED_CODES: ReadonlySet<string> = new Set(["EINVAL", "EISDIR"]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * `node:fs` in Deno throws Node-style errors (`code: "ENOENT"`); the
 * interface promises `Deno.errors.*`, so translate, keeping code and cause.
 */
function translate(err: unknown, op: string, path: string): unknown {
  const code = errorCode(err);
  const ErrorClass = code === undefined ? undefined : DENO_ERROR_BY_CODE[code];
  if (ErrorClass === undefined || err instanceof ErrorClass) return err;
  const message = err instanceof Error ? err.message : String(err);
  const translated = new ErrorClass(`${op} '${path}': ${message}`);
  Object.assign(translated, { code, cause: err });
  return translated;
}

function checkPosition(position: number, op: string, path: string): void {
  // node:fs reads and writes at the current offset for -1 or null: never let that through.
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(
      `${op} '${path}': position must be a non-negative integer, got ${position}`,
    );
  }
}

function openFlags(options: OpenOptions): number {
  const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC } = fs.constants;
  // Neither read nor write asked for: default to read, as Deno.open does.
  let flags = options.write ? (options.read ? O_RDWR : O_WRONLY) : O_RDONLY;
  if (options.create || options.createNew) flags |= O_CREAT;
  if (options.createNew) flags |= O_EXCL;
  if (options.truncate) flags |= O_TRUNC;
  return flags;
}

/** Run a `node:fs` callback-style sync on a worker thread, as a Promise. */
function asyncSync(
  fn: (fd: number, callback: (err: Error | null) => void) => void,
  fd: number,
  op: string,
  path: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    fn(fd, (err) => err ? reject(translate(err, op, path)) : resolve());
  });
}

/** One open file: a raw descriptor plus, once locked, a second handle holding the flock. */
class DenoFileHandle implements FileHandle {
  readonly path: string;
  #fd: number;
  #closed = false;
  #read: boolean;
  #write: boolean;
  /** Separate open file description: flock belongs to it, so closing it releases the lock. */
  #lockFile: Deno.FsFile | undefined;

  constructor(path: string, fd: number, read: boolean, write: boolean) {
    this.path = path;
    this.#fd = fd;
    this.#read = read;
    this.#write = write;
  }

  /** A closed descriptor number may be reused by another file: refuse rather than hit it. */
  #checkOpen(op: string): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`${op} '${this.path}': file handle is closed`);
    }
  }

  read(buf: Uint8Array, position: number): number {
    this.#checkOpen("read");
    checkPosition(position, "read", this.path);
    let done = 0;
    try {
      // pread may return short before EOF (signals, pipes); only 0 means end of file.
      while (done < buf.length) {
        const n = fs.readSync(this.#fd, buf, done, buf.length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (err) {
      throw translate(err, "read", this.path);
    }
    return done;
  }

  write(data: Uint8Array, position: number): void {
    this.#checkOpen("write");
    checkPosition(position, "write", this.path);
    let done = 0;
    try {
      while (done < data.length) {
        done += fs.writeSync(this.#fd, data, done, data.length - done, position + done);
      }
    } catch (err) {
      throw translate(err, "write", this.path);
    }
  }

  size(): number {
    this.#checkOpen("size");
    try {
      return fs.fstatSync(this.#fd).size;
    } catch (err) {
      throw translate(err, "size", this.path);
    }
  }

  truncate(length: number): void {
    this.#checkOpen("truncate");
    checkPosition(length, "truncate", this.path);
    try {
      fs.ftruncateSync(this.#fd, length);
    } catch (err) {
      throw translate(err, "truncate", this.path);
    }
  }

  syncData(): void {
    this.#checkOpen("syncData");
    try {
      fs.fdatasyncSync(this.#fd);
    } catch (err) {
      throw translate(err, "syncData", this.path);
    }
  }

  sync(): void {
    this.#checkOpen("sync");
    try {
      fs.fsyncSync(this.#fd);
    } catch (err) {
      throw translate(err, "sync", this.path);
    }
  }

  syncDataAsync(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError("syncDataAsync"));
    return asyncSync(fs.fdatasync, this.#fd, "syncDataAsync", this.path);
  }

  syncAsync(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError("syncAsync"));
    return asyncSync(fs.fsync, this.#fd, "syncAsync", this.path);
  }

  #closedError(op: string): Error {
    return new Deno.errors.BadResource(`${op} '${this.path}': file handle is closed`);
  }

  tryLock(): boolean {
    this.#checkOpen("tryLock");
    if (this.#lockFile !== undefined) return true;
    let file: Deno.FsFile;
    try {
      // Same access mode as the data descriptor, so a write-only file can still be locked.
      // Reopening by path: locking a file renamed or removed since open is not supported.
      file = Deno.openSync(this.path, { read: this.#read, write: this.#write });
    } catch (err) {
      throw translate(err, "tryLock", this.path);
    }
    let locked = false;
    try {
      locked = file.tryLockSync(true);
    } finally {
      if (locked) this.#lockFile = file;
      else file.close();
    }
    return locked;
  }

  unlock(): void {
    this.#checkOpen("unlock");
    const file = this.#lockFile;
    if (file === undefined) return;
    this.#lockFile = undefined;
    // Closing the description releases the flock even if unlockSync fails.
    try {
      file.unlockSync();
    } finally {
      file.close();
    }
  }

  close(): void {
    this.#checkOpen("close");
    this.#closed = true;
    const lockFile = this.#lockFile;
    this.#lockFile = undefined;
    // Release the lock first; a failure there must not leak the descriptor.
    let lockError: unknown;
    try {
      lockFile?.close();
    } catch (err) {
      lockError = err;
    }
    try {
      fs.closeSync(this.#fd);
    } catch (err) {
      throw translate(err, "close", this.path);
    }
    if (lockError !== undefined) throw lockError;
  }
}

/**
 * The {@linkcode FileSystem} on the real disk.
 *
 * Reads and writes are positional (`pread`/`pwrite` through `node:fs`
 * descriptors), so concurrent readers never disturb the writer's offset and an
 * append costs one system call. `syncDataAsync`/`syncAsync` run `fdatasync`/
 * `fsync` off the event loop. Locks are `flock` on a second open of the same
 * path: exclusive against any other handle, in this process or another.
 * Errors are `Deno.errors.*` (`NotFound`, `AlreadyExists`, ...) with the
 * original `code` kept.
 *
 * Requires `--allow-read` and `--allow-write` for the paths used.
 *
 * @example Append and read back
 * ```ts
 * import { DenoFileSystem } from "./deno.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * const fsys = new DenoFileSystem();
 * const file = fsys.open(`${dir}/log`, { read: true, write: true, create: true });
 * file.write(new TextEncoder().encode("hello"), 0);
 * file.syncData();
 * const buf = new Uint8Array(5);
 * file.read(buf, 0);
 * file.close();
 * fsys.syncDir(dir);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class DenoFileSystem implements FileSystem {
  /** Open a file; throws `Deno.errors.NotFound` or `Deno.errors.AlreadyExists`. */
  open(path: string, options: OpenOptions): FileHandle {
    let fd: number;
    try {
      fd = fs.openSync(path, openFlags(options));
    } catch (err) {
      throw translate(err, "open", path);
    }
    const write = options.write === true;
    return new DenoFileHandle(path, fd, options.read === true || !write, write);
  }

  /** Metadata for `path`, or `undefined` when it does not exist. */
  stat(path: string): FileInfo | undefined {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    return {
      size: info.isDirectory ? 0 : info.size,
      isFile: info.isFile,
      isDirectory: info.isDirectory,
    };
  }

  /** Entry names of directory `path`, sorted. */
  readDir(path: string): string[] {
    const names: string[] = [];
    for (const entry of Deno.readDirSync(path)) names.push(entry.name);
    return names.sort();
  }

  /** Create `path` and its parents; no error when it exists. */
  mkdir(path: string): void {
    Deno.mkdirSync(path, { recursive: true });
  }

  /** Atomically replace `to` with `from`. */
  rename(from: string, to: string): void {
    Deno.renameSync(from, to);
  }

  /** Remove a file (or empty directory); no error when it does not exist. */
  remove(path: string): void {
    try {
      Deno.removeSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** `fsync` the directory so creations, renames and removals in it survive a crash. */
  syncDir(path: string): void {
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDONLY);
    } catch (err) {
      throw translate(err, "syncDir", path);
    }
    try {
      fs.fsyncSync(fd);
    } catch (err) {
      const code = errorCode(err);
      if (code === undefined || !DIR_SYNC_UNSUPPORTED_CODES.has(code)) {
        throw translate(err, "syncDir", path);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
