/**
 * The real-disk {@linkcode FileSystem}: positional I/O through `node:fs` file
 * descriptors (pread/pwrite, so appends need no seek), `flock` of the
 * directory through `Deno.FsFile`, directory operations through the `Deno`
 * namespace. The only module of the store (with the CLI) that touches
 * `Deno.*` or `node:*`.
 *
 * @module
 */

import * as fs from "node:fs";
import { crc32 as zlibCrc32 } from "node:zlib";
import { setNativeCrc32 } from "../core/crc32.ts";
import { IoError, type IoErrorKind, StorageFullError } from "../core/errors.ts";
import { setDefaultFileSystem } from "./default.ts";
import type { DirLock, FileHandle, FileInfo, FileSystem, OpenOptions } from "./types.ts";

/** How each errno-style code reads through the port. */
const KIND_BY_CODE: Readonly<Record<string, IoErrorKind>> = {
  ENOENT: "not_found",
  EEXIST: "already_exists",
  EACCES: "permission_denied",
  EPERM: "permission_denied",
  EROFS: "permission_denied",
  ENOTDIR: "not_a_directory",
  EISDIR: "is_a_directory",
  EINVAL: "invalid_path",
  ENAMETOOLONG: "invalid_path",
  ELOOP: "invalid_path",
  ERR_INVALID_ARG_VALUE: "invalid_path",
  ERR_INVALID_ARG_TYPE: "invalid_path",
};
/** Codes that mean the device (or the user's quota) is full. */
const FULL_CODES: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT"]);

/** Errors some platforms raise for fsync on a directory; nothing to make durable there. */
const DIR_SYNC_UNSUPPORTED_CODES: ReadonlySet<string> = new Set(["EINVAL", "EISDIR"]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The port's error for a failed Deno or `node:fs` call: `StorageFullError`
 * for a full device, else `IoError` with the kind its code maps to; the
 * original error is the `cause`.
 */
function translate(err: unknown, op: string, path: string): IoError | StorageFullError {
  if (err instanceof IoError || err instanceof StorageFullError) return err;
  const code = errorCode(err);
  if (code !== undefined && FULL_CODES.has(code)) {
    return new StorageFullError(op, path, { cause: err });
  }
  const kind = (code !== undefined ? KIND_BY_CODE[code] : undefined) ??
    (err instanceof Deno.errors.NotFound
      ? "not_found"
      : err instanceof Deno.errors.AlreadyExists
      ? "already_exists"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission_denied"
      : err instanceof TypeError
      ? "invalid_path"
      : "io");
  const message = err instanceof Error ? err.message : String(err);
  return new IoError(kind, op, path, message, { cause: err });
}

function checkPosition(position: number, op: string, path: string): void {
  // node:fs reads and writes at the current offset for -1 or null: never let that through.
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new IoError("io", op, path, `position must be a non-negative integer, got ${position}`);
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

/** One open file: a raw descriptor, positional I/O. */
class DenoFileHandle implements FileHandle {
  readonly path: string;
  #fd: number;
  #closed = false;

  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** A closed descriptor number may be reused by another file: refuse rather than hit it. */
  #checkOpen(op: string): void {
    if (this.#closed) throw new IoError("io", op, this.path, "the file handle is closed");
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

  #closedError(op: string): IoError {
    return new IoError("io", op, this.path, "the file handle is closed");
  }

  close(): void {
    this.#checkOpen("close");
    this.#closed = true;
    try {
      fs.closeSync(this.#fd);
    } catch (err) {
      throw translate(err, "close", this.path);
    }
  }
}

/** A directory lock: `flock` on an open description of the directory itself. */
class DenoDirLock implements DirLock {
  #file: Deno.FsFile | undefined;
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }
  release(): void {
    const file = this.#file;
    if (file === undefined) return;
    this.#file = undefined;
    // Closing the description releases the flock even if unlockSync fails.
    try {
      file.unlockSync();
    } catch { /* released by the close below */ }
    file.close();
  }
}

/**
 * The {@linkcode FileSystem} on the real disk.
 *
 * Reads and writes are positional (`pread`/`pwrite` through `node:fs`
 * descriptors), so concurrent readers never disturb the writer's offset and an
 * append costs one system call. `syncDataAsync`/`syncAsync` run `fdatasync`/
 * `fsync` off the event loop. `lockDir` is `flock` on the directory itself:
 * exclusive against any other holder, in this process or another, and no
 * file deleted in the directory releases it. Errors are the port's
 * (`IoError` with a `kind`, `StorageFullError`), the runtime's error kept as
 * `cause`.
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
  /** Open a file; `IoError` of kind `"not_found"` or `"already_exists"` when it cannot. */
  open(path: string, options: OpenOptions): FileHandle {
    let fd: number;
    try {
      fd = fs.openSync(path, openFlags(options));
    } catch (err) {
      throw translate(err, "open", path);
    }
    return new DenoFileHandle(path, fd);
  }

  /** Metadata for `path`, or `undefined` when it does not exist. */
  stat(path: string): FileInfo | undefined {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw translate(err, "stat", path);
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
    try {
      for (const entry of Deno.readDirSync(path)) names.push(entry.name);
    } catch (err) {
      throw translate(err, "readDir", path);
    }
    return names.sort();
  }

  /** Create `path` and its parents; no error when it exists. */
  mkdir(path: string): void {
    try {
      Deno.mkdirSync(path, { recursive: true });
    } catch (err) {
      throw translate(err, "mkdir", path);
    }
  }

  /** Atomically replace `to` with `from`. */
  rename(from: string, to: string): void {
    try {
      Deno.renameSync(from, to);
    } catch (err) {
      throw translate(err, "rename", from);
    }
  }

  /** Remove a file (or empty directory); no error when it does not exist. */
  remove(path: string): void {
    try {
      Deno.removeSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw translate(err, "remove", path);
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

  /**
   * `flock` the directory itself (through its own open description), so no
   * file deleted in it can let a second holder in.
   */
  lockDir(path: string): DirLock | undefined {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch (err) {
      throw translate(err, "lockDir", path);
    }
    let locked = false;
    try {
      locked = file.tryLockSync(true);
    } catch (err) {
      file.close();
      throw translate(err, "lockDir", path);
    }
    if (!locked) {
      file.close();
      return undefined;
    }
    return new DenoDirLock(file);
  }
}

setDefaultFileSystem(() => new DenoFileSystem());
// Sidecars and snapshots are megabytes: zlib's CRC-32 is an order of magnitude faster there.
setNativeCrc32((data, value) => zlibCrc32(data, value));
