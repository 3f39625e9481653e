/**
 * The storage port's behavioural cases, runner-agnostic: the same table
 * `tests/fs/fs_test.ts` runs on Deno and memory, as plain functions, so they
 * also run inside a browser worker (on OPFS) and on the OPFS pool's
 * in-memory stand-in in Deno. Each case gets a fresh file system and an
 * existing, empty directory `root` in it.
 *
 * @module
 */

import { IoError, type IoErrorKind } from "../../src/core/errors.ts";
import { joinPath as join } from "../../src/fs/path.ts";
import type { FileHandle, FileSystem } from "../../src/fs/types.ts";
import { deepEqual, equal, ok, throws } from "./_assert.ts";

/** One case: runs against `fs`, in directory `root`. */
export type FsCase = (fs: FileSystem, root: string) => void | Promise<void>;

/** A matcher for the port's IoError of one kind. */
export const ioError = (kind: IoErrorKind) => (err: unknown): boolean =>
  err instanceof IoError && err.kind === kind;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array): string => decoder.decode(data);

function readAll(file: FileHandle): Uint8Array {
  const buf = new Uint8Array(file.size());
  equal(file.read(buf, 0), buf.length);
  return buf;
}

const RW_CREATE = { read: true, write: true, create: true } as const;

/** The contract every backend must honour: the store cannot tell them apart. */
export const FS_CASES: Readonly<Record<string, FsCase>> = {
  "positional writes land where asked and leave a zero-filled hole": (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("hello"), 0);
    file.write(bytes("XY"), 1);
    equal(text(readAll(file)), "hXYlo");
    file.write(bytes("!"), 8);
    equal(file.size(), 9);
    deepEqual([...readAll(file)], [...bytes("hXYlo"), 0, 0, 0, ...bytes("!")]);
    const middle = new Uint8Array(2);
    equal(file.read(middle, 2), 2);
    equal(text(middle), "Yl");
    file.close();
  },

  "a large write is written whole": (fs, root) => {
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i % 251);
    const file = fs.open(join(root, "big"), RW_CREATE);
    file.write(big, 3);
    equal(file.size(), big.length + 3);
    const back = new Uint8Array(big.length);
    equal(file.read(back, 3), big.length);
    deepEqual(back, big);
    file.close();
  },

  "reads are short only at end of file": (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("abcdef"), 0);
    const buf = new Uint8Array(10);
    equal(file.read(buf, 3), 3);
    equal(text(buf.subarray(0, 3)), "def");
    equal(file.read(buf, 6), 0);
    equal(file.read(buf, 100), 0);
    file.close();
  },

  "truncate shrinks, and extending reads zeros not old bytes": (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("abcdef"), 0);
    file.truncate(2);
    equal(text(readAll(file)), "ab");
    file.truncate(5);
    deepEqual([...readAll(file)], [...bytes("ab"), 0, 0, 0]);
    file.close();
    const again = fs.open(join(root, "f"), { read: true, write: true, truncate: true });
    equal(again.size(), 0);
    again.close();
  },

  "small reads through one handle see every write and truncate through another": (fs, root) => {
    // A reader and a writer of one file, as the store's segment reader and log writer are;
    // the small reads at neighbouring positions are what a read cache would serve.
    const path = join(root, "f");
    const writer = fs.open(path, RW_CREATE);
    const reader = fs.open(path, { read: true });
    const model = new Uint8Array(40_000);
    let size = 0;
    // The reader has just read where each change lands.
    const peek = (at: number) => reader.read(new Uint8Array(100), Math.max(0, at - 50));
    const write = (at: number, length: number, value: number) => {
      peek(at);
      const data = new Uint8Array(length).fill(value);
      writer.write(data, at);
      model.set(data, at);
      size = Math.max(size, at + length);
    };
    const check = (what: string, from: number) => {
      for (let at = from; at < size + 300; at += 997) {
        const buf = new Uint8Array(150);
        const n = reader.read(buf, at);
        equal(n, Math.max(0, Math.min(150, size - at)), `${what}: bytes read at ${at}`);
        deepEqual([...buf.subarray(0, n)], [...model.subarray(at, at + n)], `${what}: at ${at}`);
      }
    };
    write(0, 20_000, 1);
    check("written", 0);
    write(5_000, 3_000, 2);
    check("overwritten", 4_950);
    check("overwritten", 0);
    peek(19_950);
    write(19_000, 6_000, 3); // across the old end of the file
    check("appended", 18_950);
    peek(12_345);
    writer.truncate(12_345);
    model.fill(0, 12_345);
    size = 12_345;
    check("truncated", 12_295);
    writer.truncate(16_000); // extended: zeros, not the bytes cut off before
    size = 16_000;
    check("extended", 12_295);
    check("extended", 0);
    writer.close();
    reader.close();
  },

  "readDir lists files and directories sorted": (fs, root) => {
    for (const name of ["b", "a", "c"]) fs.open(join(root, name), RW_CREATE).close();
    fs.mkdir(join(join(root, "sub"), "deeper"));
    fs.mkdir(join(root, "sub"));
    deepEqual(fs.readDir(root), ["a", "b", "c", "sub"]);
    deepEqual(fs.readDir(join(root, "sub")), ["deeper"]);
    throws(() => fs.readDir(join(root, "missing")), ioError("not_found"));
  },

  "rename replaces the destination": (fs, root) => {
    const a = fs.open(join(root, "a"), RW_CREATE);
    a.write(bytes("new"), 0);
    a.close();
    const b = fs.open(join(root, "b"), RW_CREATE);
    b.write(bytes("old contents"), 0);
    b.close();
    fs.rename(join(root, "a"), join(root, "b"));
    equal(fs.stat(join(root, "a")), undefined);
    const back = fs.open(join(root, "b"), { read: true });
    equal(text(readAll(back)), "new");
    back.close();
    throws(() => fs.rename(join(root, "a"), join(root, "c")), ioError("not_found"));
  },

  "remove deletes and ignores a missing path": (fs, root) => {
    fs.open(join(root, "f"), RW_CREATE).close();
    fs.remove(join(root, "f"));
    equal(fs.stat(join(root, "f")), undefined);
    fs.remove(join(root, "f"));
    fs.remove(join(join(root, "never"), "was"));
  },

  "stat reports files, directories and absence": (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("1234"), 0);
    file.close();
    deepEqual(fs.stat(join(root, "f")), { size: 4, isFile: true, isDirectory: false });
    deepEqual(fs.stat(root), { size: 0, isFile: false, isDirectory: true });
    equal(fs.stat(join(root, "nope")), undefined);
  },

  "open throws the port's not_found and already_exists": (fs, root) => {
    const path = join(root, "f");
    throws(() => fs.open(path, { read: true }), ioError("not_found"));
    throws(
      () => fs.open(join(join(root, "no"), "dir"), { write: true, create: true }),
      ioError("not_found"),
    );
    fs.open(path, { write: true, createNew: true }).close();
    throws(() => fs.open(path, { write: true, createNew: true }), ioError("already_exists"));
  },

  "handle misuse fails loudly, with the port's errors": (fs, root) => {
    fs.open(join(root, "f"), RW_CREATE).close();
    const handle = fs.open(join(root, "f"), { read: true });
    throws(() => handle.write(bytes("x"), 0), IoError);
    throws(() => handle.read(new Uint8Array(1), -1), IoError);
    handle.close();
    throws(() => handle.read(new Uint8Array(1), 0), IoError);
    throws(() => handle.close(), IoError);
  },

  "syncs succeed, sync and async": async (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("data"), 0);
    file.syncData();
    file.sync();
    await file.syncDataAsync();
    await file.syncAsync();
    fs.syncDir(root);
    file.close();
  },

  "a directory lock is exclusive and released by release()": (fs, root) => {
    const first = fs.lockDir(root);
    ok(first);
    equal(fs.lockDir(root), undefined, "a second holder is refused");
    first.release();
    first.release(); // idempotent
    const second = fs.lockDir(root);
    ok(second, "free again after release");
    second.release();
    throws(() => fs.lockDir(join(root, "missing")), ioError("not_found"));
  },

  "deleting a file in a locked directory does not release the lock": (fs, root) => {
    fs.open(join(root, "LOCK"), RW_CREATE).close();
    const lock = fs.lockDir(root);
    ok(lock);
    fs.remove(join(root, "LOCK"));
    equal(fs.lockDir(root), undefined);
    lock.release();
  },
};
