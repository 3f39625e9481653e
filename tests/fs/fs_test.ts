import assert from "node:assert/strict";
import { join } from "node:path";
import { DenoFileSystem } from "../../src/fs/deno.ts";
import {
  type FsFault,
  type FsOp,
  InjectedFaultError,
  MemoryFileSystem,
  SimulatedCrashError,
} from "../../src/fs/memory.ts";
import type { FileHandle, FileSystem } from "../../src/fs/types.ts";
import { IoError, type IoErrorKind, StorageFullError } from "../../src/core/errors.ts";

/** A matcher for the port's IoError of one kind. */
const ioError = (kind: IoErrorKind) => (err: unknown): boolean =>
  err instanceof IoError && err.kind === kind;
/** A matcher for an injected fault: the port's error, the fault as its cause. */
const injected = (code: "EIO" | "ENOSPC") => (err: unknown): boolean =>
  (code === "ENOSPC" ? err instanceof StorageFullError : err instanceof IoError) &&
  (err as Error).cause instanceof InjectedFaultError &&
  ((err as Error).cause as InjectedFaultError).code === code;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array): string => decoder.decode(data);

function readAll(file: FileHandle): Uint8Array {
  const buf = new Uint8Array(file.size());
  assert.equal(file.read(buf, 0), buf.length);
  return buf;
}

interface Backend {
  name: string;
  setup(): { fs: FileSystem; root: string; cleanup(): void };
}

const BACKENDS: Backend[] = [
  {
    name: "DenoFileSystem",
    setup() {
      const root = Deno.makeTempDirSync({ prefix: "batpak_fs_test_" });
      return {
        fs: new DenoFileSystem(),
        root,
        cleanup: () => Deno.removeSync(root, { recursive: true }),
      };
    },
  },
  {
    name: "MemoryFileSystem",
    setup() {
      const fs = new MemoryFileSystem();
      fs.mkdir("/data");
      return { fs, root: "/data", cleanup() {} };
    },
  },
];

const RW_CREATE = { read: true, write: true, create: true } as const;

// The contract both backends must honour: the store cannot tell them apart.
for (const backend of BACKENDS) {
  const test = (name: string, fn: (fs: FileSystem, root: string) => void | Promise<void>) =>
    Deno.test(`${backend.name}: ${name}`, async () => {
      const { fs, root, cleanup } = backend.setup();
      try {
        await fn(fs, root);
      } finally {
        cleanup();
      }
    });

  test("positional writes land where asked and leave a zero-filled hole", (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("hello"), 0);
    file.write(bytes("XY"), 1);
    assert.equal(text(readAll(file)), "hXYlo");
    file.write(bytes("!"), 8);
    assert.equal(file.size(), 9);
    assert.deepEqual([...readAll(file)], [...bytes("hXYlo"), 0, 0, 0, ...bytes("!")]);
    const middle = new Uint8Array(2);
    assert.equal(file.read(middle, 2), 2);
    assert.equal(text(middle), "Yl");
    file.close();
  });

  test("a large write is written whole", (fs, root) => {
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i % 251);
    const file = fs.open(join(root, "big"), RW_CREATE);
    file.write(big, 3);
    assert.equal(file.size(), big.length + 3);
    const back = new Uint8Array(big.length);
    assert.equal(file.read(back, 3), big.length);
    assert.deepEqual(back, big);
    file.close();
  });

  test("reads are short only at end of file", (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("abcdef"), 0);
    const buf = new Uint8Array(10);
    assert.equal(file.read(buf, 3), 3);
    assert.equal(text(buf.subarray(0, 3)), "def");
    assert.equal(file.read(buf, 6), 0);
    assert.equal(file.read(buf, 100), 0);
    file.close();
  });

  test("truncate shrinks, and extending reads zeros not old bytes", (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("abcdef"), 0);
    file.truncate(2);
    assert.equal(text(readAll(file)), "ab");
    file.truncate(5);
    assert.deepEqual([...readAll(file)], [...bytes("ab"), 0, 0, 0]);
    file.close();
    const again = fs.open(join(root, "f"), { read: true, write: true, truncate: true });
    assert.equal(again.size(), 0);
    again.close();
  });

  test("readDir lists files and directories sorted", (fs, root) => {
    for (const name of ["b", "a", "c"]) fs.open(join(root, name), RW_CREATE).close();
    fs.mkdir(join(root, "sub", "deeper"));
    fs.mkdir(join(root, "sub"));
    assert.deepEqual(fs.readDir(root), ["a", "b", "c", "sub"]);
    assert.deepEqual(fs.readDir(join(root, "sub")), ["deeper"]);
    assert.throws(() => fs.readDir(join(root, "missing")), ioError("not_found"));
  });

  test("rename replaces the destination", (fs, root) => {
    const a = fs.open(join(root, "a"), RW_CREATE);
    a.write(bytes("new"), 0);
    a.close();
    const b = fs.open(join(root, "b"), RW_CREATE);
    b.write(bytes("old contents"), 0);
    b.close();
    fs.rename(join(root, "a"), join(root, "b"));
    assert.equal(fs.stat(join(root, "a")), undefined);
    const back = fs.open(join(root, "b"), { read: true });
    assert.equal(text(readAll(back)), "new");
    back.close();
    assert.throws(() => fs.rename(join(root, "a"), join(root, "c")), ioError("not_found"));
  });

  test("remove deletes and ignores a missing path", (fs, root) => {
    fs.open(join(root, "f"), RW_CREATE).close();
    fs.remove(join(root, "f"));
    assert.equal(fs.stat(join(root, "f")), undefined);
    fs.remove(join(root, "f"));
    fs.remove(join(root, "never", "was"));
  });

  test("stat reports files, directories and absence", (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("1234"), 0);
    file.close();
    assert.deepEqual(fs.stat(join(root, "f")), { size: 4, isFile: true, isDirectory: false });
    assert.deepEqual(fs.stat(root), { size: 0, isFile: false, isDirectory: true });
    assert.equal(fs.stat(join(root, "nope")), undefined);
  });

  test("open throws the port's not_found and already_exists", (fs, root) => {
    const path = join(root, "f");
    assert.throws(() => fs.open(path, { read: true }), ioError("not_found"));
    assert.throws(
      () => fs.open(join(root, "no", "dir"), { write: true, create: true }),
      ioError("not_found"),
    );
    fs.open(path, { write: true, createNew: true }).close();
    assert.throws(() => fs.open(path, { write: true, createNew: true }), ioError("already_exists"));
  });

  test("handle misuse fails loudly, with the port's errors", (fs, root) => {
    fs.open(join(root, "f"), RW_CREATE).close();
    const handle = fs.open(join(root, "f"), { read: true });
    assert.throws(() => handle.write(bytes("x"), 0), IoError);
    assert.throws(() => handle.read(new Uint8Array(1), -1), IoError);
    handle.close();
    assert.throws(() => handle.read(new Uint8Array(1), 0), IoError);
    assert.throws(() => handle.close(), IoError);
  });

  test("syncs succeed, sync and async", async (fs, root) => {
    const file = fs.open(join(root, "f"), RW_CREATE);
    file.write(bytes("data"), 0);
    file.syncData();
    file.sync();
    await file.syncDataAsync();
    await file.syncAsync();
    fs.syncDir(root);
    file.close();
  });

  test("a directory lock is exclusive and released by release()", (fs, root) => {
    const first = fs.lockDir(root);
    assert.ok(first);
    assert.equal(fs.lockDir(root), undefined, "a second holder is refused");
    first.release();
    first.release(); // idempotent
    const second = fs.lockDir(root);
    assert.ok(second, "free again after release");
    second.release();
    assert.throws(() => fs.lockDir(join(root, "missing")), ioError("not_found"));
  });

  test("deleting a file in a locked directory does not release the lock", (fs, root) => {
    fs.open(join(root, "LOCK"), RW_CREATE).close();
    const lock = fs.lockDir(root);
    assert.ok(lock);
    fs.remove(join(root, "LOCK"));
    assert.equal(fs.lockDir(root), undefined);
    lock.release();
  });
}

Deno.test("DenoFileSystem: a directory lock is held against another process", async () => {
  const root = Deno.makeTempDirSync({ prefix: "batpak_fs_test_" });
  try {
    const fs = new DenoFileSystem();
    const probe = async (): Promise<string> => {
      const script = `const f = Deno.openSync(${JSON.stringify(root)}, { read: true });
console.log(f.tryLockSync(true));`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      return decoder.decode(out.stdout).trim();
    };
    const holder = fs.lockDir(root);
    assert.ok(holder);
    assert.equal(await probe(), "false");
    holder.release();
    assert.equal(await probe(), "true");
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("DenoFileSystem: translated errors name the path and keep the runtime's error", () => {
  const path = "/no/such/batpak/file";
  assert.throws(
    () => new DenoFileSystem().open(path, { read: true }),
    (err: unknown) =>
      err instanceof IoError && err.kind === "not_found" && err.path === path &&
      err.message.includes(path) && (err.cause as { code?: string }).code === "ENOENT",
  );
  const fs = new DenoFileSystem();
  const file = Deno.makeTempFileSync();
  try {
    assert.throws(() => fs.mkdir(`${file}/sub`), ioError("not_a_directory"));
    assert.throws(() => fs.open("a\0b", { read: true }), ioError("invalid_path"));
    assert.throws(() => fs.stat("a\0b"), ioError("invalid_path"));
  } finally {
    Deno.removeSync(file);
  }
});

// ---- MemoryFileSystem: crash model ----

/** A file system with /db/log durable as "durable" and "+unsynced" written after. */
function withUnsyncedTail(): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  fs.mkdir("/db");
  const file = fs.open("/db/log", { write: true, create: true });
  file.write(bytes("durable"), 0);
  file.syncData();
  fs.syncDir("/db");
  file.write(bytes("+unsynced"), 7);
  return fs;
}

Deno.test("MemoryFileSystem: a crash keeps synced data and loses unsynced data", () => {
  const fs = withUnsyncedTail();
  assert.equal(text(fs.readFile("/db/log")), "durable+unsynced");
  const after = fs.crash();
  assert.equal(text(after.readFile("/db/log")), "durable");
  assert.deepEqual(after.listFiles(), ["/db/log"]);
});

Deno.test("MemoryFileSystem: an async sync makes data durable", async () => {
  const fs = withUnsyncedTail();
  const file = fs.open("/db/log", { write: true });
  await file.syncDataAsync();
  assert.equal(text(fs.crash().readFile("/db/log")), "durable+unsynced");
});

Deno.test("MemoryFileSystem: a truncation not synced is undone by a crash", () => {
  const fs = withUnsyncedTail();
  const file = fs.open("/db/log", { write: true });
  file.syncData();
  file.truncate(3);
  assert.equal(text(fs.crash().readFile("/db/log")), "durable+unsynced");
});

Deno.test("MemoryFileSystem: a created file not dir-synced vanishes in a crash", () => {
  const fs = new MemoryFileSystem();
  fs.mkdir("/db");
  const file = fs.open("/db/new", { write: true, create: true });
  file.write(bytes("data"), 0);
  file.syncData();
  const after = fs.crash();
  assert.equal(after.stat("/db/new"), undefined);
  assert.deepEqual(after.readDir("/db"), [], "directories survive; their unsynced entries do not");
});

Deno.test("MemoryFileSystem: a rename or remove not dir-synced reverts in a crash", () => {
  const build = (): MemoryFileSystem => {
    const fs = new MemoryFileSystem();
    fs.writeFile("/db/current", bytes("old"));
    const tmp = fs.open("/db/current.tmp", { write: true, create: true });
    tmp.write(bytes("new"), 0);
    tmp.syncData();
    fs.syncDir("/db");
    fs.rename("/db/current.tmp", "/db/current");
    return fs;
  };
  const reverted = build().crash();
  assert.equal(text(reverted.readFile("/db/current")), "old");
  assert.equal(text(reverted.readFile("/db/current.tmp")), "new");

  const synced = build();
  synced.syncDir("/db");
  const kept = synced.crash();
  assert.equal(text(kept.readFile("/db/current")), "new");
  assert.deepEqual(kept.listFiles(), ["/db/current"]);

  const removed = new MemoryFileSystem();
  removed.writeFile("/db/gone", bytes("x"));
  removed.remove("/db/gone");
  assert.equal(removed.stat("/db/gone"), undefined);
  assert.equal(text(removed.crash().readFile("/db/gone")), "x");
});

Deno.test("MemoryFileSystem: a torn crash keeps a seeded prefix of the unsynced bytes", () => {
  const SEEDS = 32;
  const current = bytes("durable+unsynced");
  const lengths = new Set<number>();
  for (let seed = 0; seed < SEEDS; seed++) {
    const once = withUnsyncedTail().crash({ seed, tornWrites: true }).readFile("/db/log");
    const twice = withUnsyncedTail().crash({ seed, tornWrites: true }).readFile("/db/log");
    assert.deepEqual(once, twice, `seed ${seed} must replay`);
    assert.ok(once.length >= "durable".length && once.length <= current.length);
    assert.deepEqual(once, current.subarray(0, once.length), "a prefix, in order");
    lengths.add(once.length);
  }
  assert.ok(lengths.size > 2, `seeds should tear at different points, got ${[...lengths]}`);
  assert.equal(text(withUnsyncedTail().crash({ seed: 1 }).readFile("/db/log")), "durable");
});

Deno.test("MemoryFileSystem: the crashed instance and its handles are dead", async () => {
  const fs = withUnsyncedTail();
  const file = fs.open("/db/log", { read: true, write: true });
  fs.crash();
  assert.throws(() => file.write(bytes("zombie"), 0), SimulatedCrashError);
  assert.throws(() => file.read(new Uint8Array(1), 0), SimulatedCrashError);
  assert.throws(() => file.close(), SimulatedCrashError);
  await assert.rejects(file.syncDataAsync(), SimulatedCrashError);
  assert.throws(() => fs.open("/db/log", { read: true }), SimulatedCrashError);
  assert.throws(() => fs.stat("/db/log"), SimulatedCrashError);
  assert.throws(() => fs.readFile("/db/log"), SimulatedCrashError);
  assert.throws(() => fs.crash(), SimulatedCrashError);
});

Deno.test("MemoryFileSystem: a crash releases locks", () => {
  const fs = new MemoryFileSystem();
  fs.mkdir("/db");
  assert.ok(fs.lockDir("/db"));
  assert.equal(fs.lockDir("/db"), undefined);
  const after = fs.crash();
  assert.ok(after.lockDir("/db"));
});

Deno.test("MemoryFileSystem: helpers read, write durably, flip and list", () => {
  const fs = new MemoryFileSystem();
  fs.writeFile("/b/2", bytes("two"));
  fs.writeFile("/a/1", bytes("one"));
  fs.flipByte("/a/1", 1);
  assert.equal(fs.readFile("/a/1")[1], "n".charCodeAt(0) ^ 0xff);
  assert.throws(() => fs.flipByte("/a/1", 3), RangeError);
  assert.deepEqual(fs.listFiles(), ["/a/1", "/b/2"]);
  const after = fs.crash();
  assert.equal(after.readFile("/a/1")[1], "n".charCodeAt(0) ^ 0xff, "the flip is on disk too");
  assert.equal(text(after.readFile("/b/2")), "two");
  assert.throws(() => after.readFile("/c"), ioError("not_found"));
});

Deno.test("MemoryFileSystem: stats count operations", () => {
  const fs = new MemoryFileSystem();
  const file = fs.open("/f", { read: true, write: true, create: true });
  file.write(bytes("abc"), 0);
  file.write(bytes("de"), 3);
  file.read(new Uint8Array(5), 0);
  file.syncData();
  fs.syncDir("/");
  assert.deepEqual(fs.stats, {
    opens: 1,
    reads: 1,
    writes: 2,
    bytesWritten: 5,
    syncs: 1,
    dirSyncs: 1,
  });
});

// ---- MemoryFileSystem: fault injection ----

function faultOnce(fs: MemoryFileSystem, kind: FsOp["kind"], fault: FsFault): FsOp[] {
  const seen: FsOp[] = [];
  let fired = false;
  fs.setFaultInjector((op) => {
    seen.push(op);
    if (fired || op.kind !== kind) return undefined;
    fired = true;
    return fault;
  });
  return seen;
}

Deno.test("MemoryFileSystem: the injector sees each operation with a rising seq", () => {
  const fs = new MemoryFileSystem();
  const file = fs.open("/f", { read: true, write: true, create: true });
  const seen = faultOnce(fs, "sync", { error: "EIO" });
  file.write(bytes("abc"), 5);
  file.read(new Uint8Array(4), 1);
  assert.deepEqual(
    seen.map(({ kind, path, position, length }) => ({ kind, path, position, length })),
    [
      { kind: "write", path: "/f", position: 5, length: 3 },
      { kind: "read", path: "/f", position: 1, length: 4 },
    ],
  );
  assert.equal(seen[1].seq, seen[0].seq + 1);
});

Deno.test("MemoryFileSystem: an error fault carries its code and names op and path", () => {
  const fs = new MemoryFileSystem();
  faultOnce(fs, "open", { error: "ENOSPC" });
  assert.throws(
    () => fs.open("/db.log", { write: true, create: true }),
    (err: unknown) => injected("ENOSPC")(err) && /open '\/db\.log'/.test((err as Error).message),
  );
  assert.equal(fs.stat("/db.log"), undefined, "a failed open creates nothing");
});

Deno.test("MemoryFileSystem: an EIO write throws and writes nothing", () => {
  const fs = new MemoryFileSystem();
  const file = fs.open("/f", { read: true, write: true, create: true });
  faultOnce(fs, "write", { error: "EIO" });
  assert.throws(
    () => file.write(bytes("abc"), 0),
    injected("EIO"),
  );
  assert.equal(file.size(), 0);
});

Deno.test("MemoryFileSystem: a short read returns fewer bytes", () => {
  const fs = new MemoryFileSystem();
  fs.writeFile("/f", bytes("abcdef"));
  const file = fs.open("/f", { read: true });
  faultOnce(fs, "read", { shortRead: 2 });
  const buf = new Uint8Array(6);
  assert.equal(file.read(buf, 0), 2);
  assert.equal(text(buf.subarray(0, 2)), "ab");
  assert.equal(file.read(buf, 0), 6);
});

Deno.test("MemoryFileSystem: a torn write keeps a prefix then throws EIO", () => {
  const fs = new MemoryFileSystem();
  const file = fs.open("/f", { read: true, write: true, create: true });
  faultOnce(fs, "write", { tornWrite: 2 });
  assert.throws(
    () => file.write(bytes("abcdef"), 0),
    injected("EIO"),
  );
  assert.equal(text(fs.readFile("/f")), "ab");
});

Deno.test("MemoryFileSystem: a dropped sync reports success but is lost in a crash", async () => {
  for (const kind of ["syncData", "sync"] as const) {
    const fs = withUnsyncedTail();
    const file = fs.open("/db/log", { write: true });
    faultOnce(fs, kind, { dropSync: true });
    if (kind === "sync") await file.syncAsync();
    else file.syncData();
    assert.equal(text(fs.crash().readFile("/db/log")), "durable", kind);
  }
  const fs = new MemoryFileSystem();
  fs.mkdir("/db");
  fs.open("/db/new", { write: true, create: true }).close();
  faultOnce(fs, "syncDir", { dropSync: true });
  fs.syncDir("/db");
  assert.equal(fs.crash().stat("/db/new"), undefined);
});

Deno.test("MemoryFileSystem: a failed async sync rejects and persists nothing", async () => {
  const fs = withUnsyncedTail();
  const file = fs.open("/db/log", { write: true });
  faultOnce(fs, "syncData", { error: "EIO" });
  await assert.rejects(file.syncDataAsync(), injected("EIO"));
  assert.equal(text(fs.crash().readFile("/db/log")), "durable");
});

Deno.test("MemoryFileSystem: faults on namespace operations", () => {
  const fs = new MemoryFileSystem();
  fs.writeFile("/a", bytes("a"));
  const ops: Array<[FsOp["kind"], () => void]> = [
    ["rename", () => fs.rename("/a", "/b")],
    ["remove", () => fs.remove("/a")],
    ["mkdir", () => fs.mkdir("/d")],
    ["syncDir", () => fs.syncDir("/")],
    ["truncate", () => fs.open("/a", { write: true }).truncate(0)],
  ];
  for (const [kind, run] of ops) {
    faultOnce(fs, kind, { error: "EIO" });
    assert.throws(run, injected("EIO"), kind);
  }
  assert.equal(text(fs.readFile("/a")), "a");
  assert.equal(fs.stat("/d"), undefined);
});

Deno.test("MemoryFileSystem: a fault that does not fit the operation is a harness bug", () => {
  const fs = new MemoryFileSystem();
  fs.setFaultInjector(() => ({ tornWrite: 1 }));
  assert.throws(() => fs.mkdir("/x"), TypeError);
  fs.setFaultInjector();
  fs.mkdir("/x");
  assert.equal(fs.stat("/x")?.isDirectory, true);
});
