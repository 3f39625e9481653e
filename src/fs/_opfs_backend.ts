/**
 * What the OPFS pool needs of the browser, as two small interfaces, and
 * their implementation on the Origin Private File System:
 *
 * - {@linkcode SyncHandle}: the synchronous methods of a
 *   `FileSystemSyncAccessHandle` (dedicated workers only);
 * - {@linkcode PoolDirectory}: the asynchronous directory side (list files,
 *   create one and take its sync handle, remove one).
 *
 * The pool is written against these interfaces only, so its logic (mapping,
 * rename atomicity, crash resolution) is also tested in Deno on an in-memory
 * stand-in; the browser tests run it on the real thing.
 *
 * @module
 */

import { IoError, type IoErrorKind, StorageFullError, StoreLockedError } from "../core/errors.ts";

/** The synchronous surface of a `FileSystemSyncAccessHandle`. */
export interface SyncHandle {
  /** Read into `buffer` at `at`; the number of bytes read (short only at end of file). */
  read(buffer: Uint8Array, options: { at: number }): number;
  /** Write `buffer` at `at`; the number of bytes written. */
  write(buffer: Uint8Array, options: { at: number }): number;
  /** Size of the file in bytes. */
  getSize(): number;
  /** Cut or extend (with zeros) the file to `size` bytes. */
  truncate(size: number): void;
  /** Persist the file's contents (the fsync). */
  flush(): void;
  /** Release the handle and the file's lock. */
  close(): void;
}

/** The asynchronous directory a pool lives in. */
export interface PoolDirectory {
  /** A label for messages, e.g. `opfs:batpak`. */
  readonly label: string;
  /** Names of the files in the directory (any order). */
  list(): Promise<string[]>;
  /**
   * Open file `name` (creating it when `create`) and take its exclusive sync
   * handle. Throws {@linkcode StoreLockedError} when another context holds
   * one, `StorageFullError` when there is no room, `IoError` otherwise.
   */
  open(name: string, create: boolean): Promise<SyncHandle>;
  /** Remove file `name` (its handle must be closed); no error when missing. */
  remove(name: string): Promise<void>;
  /** Release whatever the directory holds (the cross-context lock); idempotent. */
  release(): void;
}

/** How each `DOMException` name of the File System spec reads through the port. */
const KIND_BY_DOM_NAME: Readonly<Record<string, IoErrorKind>> = {
  NotFoundError: "not_found",
  TypeMismatchError: "not_a_directory",
  NotAllowedError: "permission_denied",
  SecurityError: "permission_denied",
  InvalidModificationError: "io",
  InvalidStateError: "io",
  NoModificationAllowedError: "io",
};

/** The `name` of a `DOMException` (or any error), if it has one. */
export function domName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === "string" ? name : undefined;
}

/** True for a browser's storage quota error (the web's ENOSPC / EDQUOT). */
export function isQuotaError(err: unknown): boolean {
  return domName(err) === "QuotaExceededError";
}

/**
 * The port's error for a failed browser call: `StorageFullError` for a
 * quota error, else `IoError` with the kind its `DOMException` name maps
 * to; the browser's error is the `cause`.
 */
export function translate(err: unknown, op: string, path: string): IoError | StorageFullError {
  if (err instanceof IoError || err instanceof StorageFullError) return err;
  if (isQuotaError(err)) return new StorageFullError(op, path, { cause: err });
  const name = domName(err);
  const kind = (name !== undefined ? KIND_BY_DOM_NAME[name] : undefined) ??
    (err instanceof TypeError ? "invalid_path" : "io");
  const detail = `${name ?? "Error"}: ${(err as Error)?.message ?? String(err)}`;
  return new IoError(kind, op, path, detail, { cause: err });
}

// Structural types for the parts of the File System and Web Locks APIs used
// here: Deno's type libraries do not declare them.
interface FileHandleLike {
  createSyncAccessHandle(): Promise<SyncHandle>;
}
interface DirectoryHandleLike {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirectoryHandleLike>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike>;
  removeEntry(name: string): Promise<void>;
  keys(): AsyncIterable<string>;
}
interface LockManagerLike {
  request(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<void>;
}
interface NavigatorLike {
  storage?: { getDirectory?: () => Promise<DirectoryHandleLike> };
  locks?: LockManagerLike;
}

/** The browser's `navigator`, when there is one with OPFS. */
function opfsNavigator(): NavigatorLike | undefined {
  const nav = (globalThis as { navigator?: NavigatorLike }).navigator;
  return typeof nav?.storage?.getDirectory === "function" ? nav : undefined;
}

/** True where the Origin Private File System and sync access handles exist. */
export function opfsAvailable(): boolean {
  return opfsNavigator() !== undefined &&
    typeof (globalThis as { FileSystemSyncAccessHandle?: unknown }).FileSystemSyncAccessHandle ===
      "function";
}

/**
 * The error for a pool another tab or worker holds: who has it, and the
 * ways out (close it there, or wait for it).
 * `waitedMs`: how long this open waited (`lockWaitMs`), 0 when it did not.
 */
export function lockedByAnotherContext(label: string, waitedMs: number): StoreLockedError {
  return new StoreLockedError(
    label,
    `by another tab or worker of this origin${
      waitedMs > 0 ? ` (still held after waiting ${waitedMs} ms)` : ""
    }: the Origin Private File System lets one worker at a time hold a store. Close the ` +
      `store there (BrowserStore.close() or OpfsFileSystem.close(); closing or reloading the ` +
      `tab ends its worker), or open with lockWaitMs to wait until it is released (a reload ` +
      `frees it a moment after the old page's worker ends)`,
  );
}

/**
 * Take the cross-context lock of pool `name` with the Web Locks API: held
 * until `release` (or until this worker ends, when the browser frees it).
 * Resolves to the release function, or throws `StoreLockedError` when
 * another worker or tab holds it after `waitMs`.
 */
async function takeWebLock(
  locks: LockManagerLike,
  name: string,
  label: string,
  waitMs: number,
): Promise<() => void> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const granted = new Promise<boolean>((resolve, reject) => {
    const options = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    locks.request(`batpak-opfs:${name}`, options, (lock) => {
      resolve(lock !== null);
      return lock === null ? Promise.resolve() : held;
    }).catch((err) => {
      if (domName(err) === "AbortError" || domName(err) === "TimeoutError") resolve(false);
      else reject(translate(err, "lock", label));
    });
  });
  if (!(await granted)) throw lockedByAnotherContext(label, waitMs);
  return release;
}

/** The OPFS directory `name` under the origin's root, locked for this context. */
export async function openOpfsDirectory(name: string, waitMs: number): Promise<PoolDirectory> {
  const nav = opfsNavigator();
  const label = `opfs:${name}`;
  if (nav === undefined || !opfsAvailable()) {
    throw new IoError(
      "io",
      "open",
      label,
      "the Origin Private File System with sync access handles is not available here: " +
        "OpfsFileSystem runs in a dedicated worker of a browser page served over https or " +
        "from localhost",
    );
  }
  // Web Locks first: a second worker or tab is refused before it touches a file.
  const releaseLock = nav.locks !== undefined
    ? await takeWebLock(nav.locks, name, label, waitMs)
    : () => {};
  let dir: DirectoryHandleLike;
  try {
    const root = await nav.storage!.getDirectory!();
    dir = await root.getDirectoryHandle(name, { create: true });
  } catch (err) {
    releaseLock();
    throw translate(err, "open", label);
  }
  return new OpfsDirectory(dir, label, releaseLock, waitMs);
}

class OpfsDirectory implements PoolDirectory {
  readonly label: string;
  #dir: DirectoryHandleLike;
  #releaseLock: (() => void) | undefined;
  readonly #waitedMs: number;

  constructor(dir: DirectoryHandleLike, label: string, releaseLock: () => void, waitedMs: number) {
    this.#dir = dir;
    this.label = label;
    this.#releaseLock = releaseLock;
    this.#waitedMs = waitedMs;
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const name of this.#dir.keys()) names.push(name);
    } catch (err) {
      throw translate(err, "readDir", this.label);
    }
    return names;
  }

  async open(name: string, create: boolean): Promise<SyncHandle> {
    const path = `${this.label}/${name}`;
    let file: FileHandleLike;
    try {
      file = await this.#dir.getFileHandle(name, { create });
    } catch (err) {
      throw translate(err, "open", path);
    }
    try {
      return await file.createSyncAccessHandle();
    } catch (err) {
      // The file's exclusive lock: another context has the pool open.
      if (domName(err) === "NoModificationAllowedError") {
        throw lockedByAnotherContext(this.label, this.#waitedMs);
      }
      throw translate(err, "open", path);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.#dir.removeEntry(name);
    } catch (err) {
      if (domName(err) === "NotFoundError") return;
      throw translate(err, "remove", `${this.label}/${name}`);
    }
  }

  release(): void {
    this.#releaseLock?.();
    this.#releaseLock = undefined;
  }
}
