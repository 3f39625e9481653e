/**
 * An in-memory {@linkcode PoolDirectory} for testing the OPFS pool in Deno:
 * files as byte arrays with sync handles that behave like
 * `FileSystemSyncAccessHandle` (exclusive per file, synchronous), a
 * durability model (what `flush` made durable survives `crash({ power:
 * true })`; a browser crash keeps every written byte), a quota, and a hook
 * to tear or fail writes.
 *
 * @module
 */

import { StoreLockedError } from "../../src/core/errors.ts";
import type { PoolDirectory, SyncHandle } from "../../src/fs/_opfs_backend.ts";

class Bytes {
  data = new Uint8Array(0);
  durable = new Uint8Array(0);
}

/** What a write hook may do to one write. */
export type WriteFault = { tear: number } | { quota: true } | undefined;

/** Shared state of a simulated origin: files, locks, quota. */
export class MemoryOrigin {
  readonly files: Map<string, Bytes> = new Map();
  readonly locked: Set<string> = new Set();
  /** Bumped by each crash: the dead worker's directory and handles stop working. */
  epoch = 0;
  quotaBytes = Number.POSITIVE_INFINITY;
  onWrite: ((name: string, at: number, length: number) => WriteFault) | undefined;

  usage(): number {
    let total = 0;
    for (const f of this.files.values()) total += f.data.length;
    return total;
  }

  /** The directory as a new worker sees it. */
  directory(label = "opfs:test"): MemoryPoolDirectory {
    return new MemoryPoolDirectory(this, label);
  }

  /**
   * The worker dies: every lock is dropped. With `power`, only flushed bytes
   * survive (an OS crash); otherwise every written byte does (a tab crash).
   */
  crash(options: { power?: boolean } = {}): void {
    this.epoch++;
    this.locked.clear();
    if (options.power) {
      for (const f of this.files.values()) f.data = f.durable.slice();
    }
  }
}

function quotaError(): DOMException {
  return new DOMException("No space available for this operation", "QuotaExceededError");
}

class MemorySyncHandle implements SyncHandle {
  #origin: MemoryOrigin;
  #name: string;
  #bytes: Bytes;
  #closed = false;
  #epoch: number;

  constructor(origin: MemoryOrigin, name: string, bytes: Bytes) {
    this.#origin = origin;
    this.#name = name;
    this.#bytes = bytes;
    this.#epoch = origin.epoch;
  }

  #check(): void {
    if (this.#closed || this.#epoch !== this.#origin.epoch) {
      throw new DOMException("The access handle is closed", "InvalidStateError");
    }
  }

  read(buffer: Uint8Array, options: { at: number }): number {
    this.#check();
    const data = this.#bytes.data;
    const n = Math.max(0, Math.min(buffer.length, data.length - options.at));
    buffer.set(data.subarray(options.at, options.at + n));
    return n;
  }

  #resize(size: number): void {
    const grow = size - this.#bytes.data.length;
    if (grow > 0 && this.#origin.usage() + grow > this.#origin.quotaBytes) throw quotaError();
    const next = new Uint8Array(size);
    next.set(this.#bytes.data.subarray(0, Math.min(size, this.#bytes.data.length)));
    this.#bytes.data = next;
  }

  write(buffer: Uint8Array, options: { at: number }): number {
    this.#check();
    const fault = this.#origin.onWrite?.(this.#name, options.at, buffer.length);
    if (fault !== undefined && "quota" in fault) throw quotaError();
    const data = fault !== undefined ? buffer.subarray(0, fault.tear) : buffer;
    const end = options.at + data.length;
    if (end > this.#bytes.data.length) this.#resize(end);
    this.#bytes.data.set(data, options.at);
    if (fault !== undefined) throw new DOMException("torn write", "InvalidStateError");
    return data.length;
  }

  getSize(): number {
    this.#check();
    return this.#bytes.data.length;
  }

  truncate(size: number): void {
    this.#check();
    this.#resize(size);
  }

  flush(): void {
    this.#check();
    this.#bytes.durable = this.#bytes.data.slice();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#epoch === this.#origin.epoch) this.#origin.locked.delete(this.#name);
  }
}

/** One worker's view of the origin's pool directory. */
export class MemoryPoolDirectory implements PoolDirectory {
  readonly label: string;
  #origin: MemoryOrigin;
  #epoch: number;
  released = false;

  constructor(origin: MemoryOrigin, label: string) {
    this.#origin = origin;
    this.label = label;
    this.#epoch = origin.epoch;
  }

  #dead(): Promise<never> | undefined {
    return this.#epoch === this.#origin.epoch
      ? undefined
      : Promise.reject(new DOMException("the worker is gone", "InvalidStateError"));
  }

  list(): Promise<string[]> {
    return Promise.resolve([...this.#origin.files.keys()]);
  }

  open(name: string, create: boolean): Promise<SyncHandle> {
    const dead = this.#dead();
    if (dead) return dead;
    let bytes = this.#origin.files.get(name);
    if (bytes === undefined) {
      if (!create) return Promise.reject(new DOMException("no such file", "NotFoundError"));
      bytes = new Bytes();
      this.#origin.files.set(name, bytes);
    }
    if (this.#origin.locked.has(name)) return Promise.reject(new StoreLockedError(this.label));
    this.#origin.locked.add(name);
    return Promise.resolve(new MemorySyncHandle(this.#origin, name, bytes));
  }

  remove(name: string): Promise<void> {
    const dead = this.#dead();
    if (dead) return dead;
    if (this.#origin.locked.has(name)) {
      return Promise.reject(new DOMException("in use", "NoModificationAllowedError"));
    }
    this.#origin.files.delete(name);
    return Promise.resolve();
  }

  release(): void {
    this.released = true;
  }
}
