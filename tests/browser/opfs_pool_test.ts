// The OPFS pool's logic in Deno, on an in-memory stand-in for OPFS: the port's behavioural
// cases, and what only a pool has (reopen, crash mid-rename, torn headers, exhaustion, locks).
// The same cases run on real OPFS in headless Chromium: tests/browser/opfs_fs_test.ts.
import assert from "node:assert/strict";
import { IoError, StorageFullError, StoreLockedError } from "../../src/core/errors.ts";
import { HEADER_BYTES, PATH_BYTES_MAX, SLOT_BYTES } from "../../src/fs/_opfs_header.ts";
import { lockedByAnotherContext } from "../../src/fs/_opfs_backend.ts";
import { openOpfsOn, OpfsFileSystem } from "../../src/fs/opfs.ts";
import { FS_CASES, ioError } from "./_fs_cases.ts";
import { MemoryOrigin } from "./_memory_pool.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RW_CREATE = { read: true, write: true, create: true } as const;

function writeFile(fs: OpfsFileSystem, path: string, text: string): void {
  const h = fs.open(path, { ...RW_CREATE, truncate: true });
  h.write(encoder.encode(text), 0);
  h.syncData();
  h.close();
}

function readFile(fs: OpfsFileSystem, path: string): string {
  const h = fs.open(path, { read: true });
  const buf = new Uint8Array(h.size());
  h.read(buf, 0);
  h.close();
  return decoder.decode(buf);
}

for (const [name, run] of Object.entries(FS_CASES)) {
  Deno.test(`OPFS pool (in memory): ${name}`, async () => {
    const fs = await openOpfsOn(new MemoryOrigin().directory());
    fs.mkdir("/data");
    try {
      await run(fs, "/data");
    } finally {
      fs.close();
    }
  });
}

Deno.test("OPFS pool: a reopen finds every file, directory and byte", async () => {
  const origin = new MemoryOrigin();
  const fs = await openOpfsOn(origin.directory());
  fs.mkdir("/db/sub");
  fs.mkdir("/empty");
  writeFile(fs, "/db/000001.fbat", "segment one");
  writeFile(fs, "/db/sub/x", "x");
  fs.close();
  const again = await openOpfsOn(origin.directory());
  assert.deepEqual(again.readDir("/"), ["db", "empty"]);
  assert.deepEqual(again.readDir("/db"), ["000001.fbat", "sub"]);
  assert.equal(readFile(again, "/db/000001.fbat"), "segment one");
  assert.deepEqual(again.stat("/empty"), { size: 0, isFile: false, isDirectory: true });
  again.remove("/empty");
  again.close();
  const third = await openOpfsOn(origin.directory());
  assert.deepEqual(third.readDir("/"), ["db"], "a removed empty directory stays removed");
  assert.throws(() => third.remove("/db"), ioError("io"), "a directory with files is not removed");
  third.close();
});

Deno.test("OPFS pool: a crash after a rename, before the replaced file is freed, keeps the rename", async () => {
  const origin = new MemoryOrigin();
  const fs = await openOpfsOn(origin.directory());
  writeFile(fs, "/index.ckpt", "old");
  writeFile(fs, "/index.ckpt.tmp", "new");
  const before = new Map([...origin.files].map(([n, b]) => [n, b.data.slice()]));
  fs.rename("/index.ckpt.tmp", "/index.ckpt");
  // Put the replaced file back as it was: as if its truncate never reached the disk.
  for (const [name, data] of before) {
    const bytes = origin.files.get(name)!;
    if (bytes.data.length === 0 && data.length > 0) bytes.data = bytes.durable = data;
  }
  origin.crash();
  const again = await openOpfsOn(origin.directory());
  assert.deepEqual(again.readDir("/"), ["index.ckpt"]);
  assert.equal(readFile(again, "/index.ckpt"), "new", "the higher generation wins");
  again.close();
  const third = await openOpfsOn(origin.directory());
  assert.equal(readFile(third, "/index.ckpt"), "new", "and the loser was freed, not resurrected");
  third.close();
});

Deno.test("OPFS pool: a torn rename header leaves the rename undone, never half done", async () => {
  for (const tear of [0, 1, 100, SLOT_BYTES - 5, SLOT_BYTES - 1]) {
    const origin = new MemoryOrigin();
    const fs = await openOpfsOn(origin.directory());
    writeFile(fs, "/a", "from");
    writeFile(fs, "/b", "to");
    origin.onWrite = (_name, at, length) =>
      length === SLOT_BYTES && at < HEADER_BYTES ? { tear } : undefined;
    assert.throws(() => fs.rename("/a", "/b"), IoError);
    origin.onWrite = undefined;
    origin.crash({ power: true });
    const again = await openOpfsOn(origin.directory());
    assert.deepEqual(again.readDir("/"), ["a", "b"], `tear at ${tear}`);
    assert.equal(readFile(again, "/a"), "from");
    assert.equal(readFile(again, "/b"), "to");
    // The torn slot is the inactive one: the next rename of the same file goes through.
    again.rename("/a", "/b");
    assert.equal(readFile(again, "/b"), "from");
    again.close();
  }
});

Deno.test("OPFS pool: namespace changes are durable when they return (power loss)", async () => {
  const origin = new MemoryOrigin();
  const fs = await openOpfsOn(origin.directory());
  fs.mkdir("/db");
  const h = fs.open("/db/000001.fbat", { read: true, write: true, createNew: true });
  h.write(encoder.encode("header"), 0);
  h.syncData();
  h.write(encoder.encode("+unsynced"), 6);
  writeFile(fs, "/db/gone", "x");
  fs.remove("/db/gone");
  writeFile(fs, "/db/tmp", "renamed");
  fs.rename("/db/tmp", "/db/final");
  origin.crash({ power: true });
  const again = await openOpfsOn(origin.directory());
  assert.deepEqual(again.readDir("/db"), ["000001.fbat", "final"]);
  assert.equal(readFile(again, "/db/000001.fbat"), "header", "unflushed bytes are lost");
  assert.equal(readFile(again, "/db/final"), "renamed");
  again.close();
});

Deno.test("OPFS pool: with no spare left a create throws StorageFullError and writes nothing; the pool grows back", async () => {
  const fs = await openOpfsOn(new MemoryOrigin().directory(), { spares: 2 });
  writeFile(fs, "/1", "a");
  writeFile(fs, "/2", "b");
  const err = assert.throws(
    () => fs.open("/3", RW_CREATE),
    (e: unknown) =>
      e instanceof StorageFullError && /no spare file/.test(String((e as Error).cause)),
  );
  void err;
  assert.equal(fs.stat("/3"), undefined);
  assert.ok(fs.stats().exhausted >= 1);
  await fs.settled();
  writeFile(fs, "/3", "c");
  assert.deepEqual(fs.readDir("/"), ["1", "2", "3"]);
  await fs.reserve(10);
  assert.ok(fs.stats().spares >= 10);
  fs.close();
});

Deno.test("OPFS pool: surplus spares are retired in the background", async () => {
  const origin = new MemoryOrigin();
  const fs = await openOpfsOn(origin.directory(), { spares: 2 });
  await fs.reserve(20);
  for (let i = 0; i < 20; i++) writeFile(fs, `/f${i}`, "x");
  for (let i = 0; i < 20; i++) fs.remove(`/f${i}`);
  await fs.settled();
  await fs.settled();
  assert.ok(fs.stats().spares <= 4, `spares ${fs.stats().spares}`);
  assert.equal(origin.files.size, fs.stats().files);
  fs.close();
});

Deno.test("OPFS pool: a file removed while open keeps its bytes for the handle, and its name is gone after a crash", async () => {
  const origin = new MemoryOrigin();
  const fs = await openOpfsOn(origin.directory());
  writeFile(fs, "/seg", "still readable");
  const h = fs.open("/seg", { read: true });
  fs.remove("/seg");
  assert.equal(fs.stat("/seg"), undefined);
  writeFile(fs, "/other", "new file");
  const buf = new Uint8Array(14);
  h.read(buf, 0);
  assert.equal(decoder.decode(buf), "still readable");
  origin.crash({ power: true });
  const again = await openOpfsOn(origin.directory());
  assert.deepEqual(again.readDir("/"), ["other"]);
  again.close();
});

Deno.test("OPFS pool: a second worker gets StoreLockedError; after close the pool opens again", async () => {
  const origin = new MemoryOrigin();
  const first = await openOpfsOn(origin.directory());
  await assert.rejects(openOpfsOn(origin.directory()), StoreLockedError);
  assert.equal(origin.locked.size, first.stats().files, "the refused open released what it took");
  writeFile(first, "/kept", "yes");
  first.close();
  const second = await openOpfsOn(origin.directory());
  assert.equal(readFile(second, "/kept"), "yes");
  assert.throws(() => first.stat("/kept"), IoError, "a closed file system refuses calls");
  second.close();
});

Deno.test("OPFS pool: a quota error is StorageFullError, writes nothing, and reads go on", async () => {
  const origin = new MemoryOrigin();
  const fs = await openOpfsOn(origin.directory());
  writeFile(fs, "/f", "0123456789");
  origin.quotaBytes = origin.usage() + 100;
  const h = fs.open("/f", { read: true, write: true });
  assert.throws(() => h.write(new Uint8Array(1000), 10), StorageFullError);
  assert.throws(() => h.truncate(10_000), StorageFullError);
  assert.equal(h.size(), 10);
  assert.equal(readFile(fs, "/f"), "0123456789");
  origin.quotaBytes = Number.POSITIVE_INFINITY;
  h.write(new Uint8Array(1000), 10);
  assert.equal(h.size(), 1010);
  h.close();
  fs.close();
});

Deno.test("OPFS pool: bad paths and options are typed errors", async () => {
  const fs = await openOpfsOn(new MemoryOrigin().directory());
  assert.throws(() => fs.open("/a\0b", RW_CREATE), ioError("invalid_path"));
  assert.throws(
    () => fs.open("/" + "x".repeat(PATH_BYTES_MAX), RW_CREATE),
    ioError("invalid_path"),
  );
  assert.throws(() => fs.open("/", { read: true }), ioError("is_a_directory"));
  writeFile(fs, "/file", "x");
  assert.throws(() => fs.mkdir("/file/sub"), ioError("already_exists"));
  assert.throws(() => fs.readDir("/file"), ioError("not_a_directory"));
  assert.throws(() => fs.remove("/"), ioError("permission_denied"));
  fs.close();
  await assert.rejects(OpfsFileSystem.open("a/b"), ioError("invalid_path"));
  await assert.rejects(OpfsFileSystem.open("ok"), ioError("io"), "Deno has no OPFS");
});

Deno.test("OPFS: the lock error of another tab says who holds the store and what to do", () => {
  const now = lockedByAnotherContext("opfs:notes", 0);
  assert.ok(now instanceof StoreLockedError);
  assert.equal(now.code, "STORE_LOCKED");
  assert.equal(now.dataDir, "opfs:notes");
  assert.match(now.message, /^store directory "opfs:notes" is locked by another tab or worker/);
  assert.match(now.message, /BrowserStore\.close\(\) or OpfsFileSystem\.close\(\)/);
  assert.match(now.message, /lockWaitMs/);
  assert.doesNotMatch(now.message, /still held/);
  assert.match(
    lockedByAnotherContext("opfs:notes", 2_000).message,
    /still held after waiting 2000 ms/,
  );
  // Elsewhere the message is the one it always was.
  assert.match(
    new StoreLockedError("/db").message,
    /another open Store \(this or another process\)/,
  );
});
