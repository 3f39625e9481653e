/**
 * The directory lock: one `Store` per directory, in this process or another.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Coordinate, Store, StoreLockedError } from "../../mod.ts";
import { KIND_A, memStore, reopen, throwsType } from "../fixtures/store_helpers.ts";

const CHILD = fileURLToPath(new URL("../fixtures/open_store.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

function childCommand(dir: string, hold: boolean): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, CHILD, dir, ...(hold ? ["hold"] : [])],
    stdin: hold ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Run the child to completion; its stdout lines. */
async function runChild(dir: string): Promise<string[]> {
  const out = await childCommand(dir, false).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return text.split("\n");
}

Deno.test("lock: a second open in this process throws StoreLockedError; the first keeps working", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const first = Store.open(dir);
    const c = new Coordinate("l", "s");
    first.append(c, KIND_A, 1);
    const e = throwsType(() => Store.open(dir), StoreLockedError);
    assert.equal(e.code, "STORE_LOCKED");
    assert.equal(e.dataDir, dir);
    assert.match(e.message, /locked/);
    // The failed open disturbed nothing.
    first.append(c, KIND_A, 2);
    assert.equal(first.stream("l").length, 2);
    first.sync();
    throwsType(() => Store.open({ dataDir: dir, enableMmapIndex: false }), StoreLockedError);
    first.close();
    const second = Store.open(dir);
    assert.equal(second.stream("l").length, 2);
    second.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("lock: the in-memory file system locks the same way", () => {
  const { fs, store } = memStore();
  throwsType(() => reopen(fs), StoreLockedError);
  store.append(new Coordinate("m", "s"), KIND_A, 1);
  store.close();
  const again = reopen(fs);
  assert.equal(again.diagnostics().events, 1);
  again.close();
});

Deno.test("lock: another process cannot open a directory this process holds, until close", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const store = Store.open(dir);
    store.append(new Coordinate("p", "s"), KIND_A, "held");
    assert.deepEqual(await runChild(dir), ["STORE_LOCKED"]);
    store.close();
    assert.deepEqual(await runChild(dir), ["OPENED", "CLOSED"]);
    // The child's close left a store that opens here with the event intact.
    const again = Store.open(dir);
    assert.equal(again.stream("p").length, 1);
    again.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Spawn a child holding `dir`; resolves once it printed OPENED. */
async function holdingChild(dir: string) {
  const child = childCommand(dir, true).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  assert.equal(seen.trim(), "OPENED");
  return { child, reader };
}

Deno.test("lock: the same directory under another path spelling is still locked", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const store = Store.open(dir);
    const base = dir.split("/").at(-1)!;
    for (const alias of [`${dir}/`, `${dir}/.`, `${dir}/../${base}`]) {
      throwsType(() => Store.open(alias), StoreLockedError);
    }
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("lock: a holder killed with SIGKILL leaves no stale lock behind", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { child, reader } = await holdingChild(dir);
    throwsType(() => Store.open(dir), StoreLockedError);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    await child.stdin.close().catch(() => {});
    const store = Store.open(dir);
    assert.equal(store.stream("child").length, 1, "the killed holder's durable event is back");
    assert.equal(store.verify().ok, true);
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("lock: this process cannot open a directory another process holds", async () => {
  const dir = Deno.makeTempDirSync();
  const { child, reader } = await holdingChild(dir);
  try {
    throwsType(() => Store.open(dir), StoreLockedError);
    await child.stdin.close();
    let seen = "";
    while (!seen.includes("CLOSED")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.match(seen, /CLOSED/);
    assert.equal((await child.status).code, 0);
    const mine = Store.open(dir);
    assert.equal(mine.stream("child").length, 1);
    mine.close();
  } finally {
    reader.releaseLock();
    try {
      child.kill();
    } catch { /* already exited */ }
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});
