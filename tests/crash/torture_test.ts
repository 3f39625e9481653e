/**
 * R1 and R7 in the test suite: a few real SIGKILLs of a child process
 * appending to a store (the full run is `deno task torture`), and the
 * directory lock across processes.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Store, StoreLockedError } from "../../mod.ts";
import { runTorture } from "./torture.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const LOCK_CHILD = join(HERE, "lock_child.ts");
const CONFIG = join(HERE, "..", "..", "deno.json");

Deno.test("torture: 3 SIGKILLs of an appending child, each reopen passes the oracle", async () => {
  const s = await runTorture({ kills: 3, seed: 20240601 });
  assert.equal(s.failure, undefined, s.failure);
  assert.equal(s.kills, 3);
  assert.ok(s.eventsVerified > 0);
});

function child(dir: string, mode?: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, LOCK_CHILD, dir, ...(mode ? [mode] : [])],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function firstLine(p: Deno.ChildProcess): Promise<Record<string, unknown>> {
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return JSON.parse(text.split("\n")[0]);
}

Deno.test("R7: another process opening a locked directory gets StoreLockedError, both ways", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "batpak_lock_" });
  try {
    // This process holds the lock; the child is refused.
    const store = Store.open(dir);
    const refused = child(dir);
    refused.stdin.close();
    assert.deepEqual(await firstLine(refused), {
      opened: false,
      name: "StoreLockedError",
      code: "STORE_LOCKED",
    });
    await refused.status;
    store.close();
    // The child holds the lock; this process is refused until the child lets go.
    const holder = child(dir, "hold");
    assert.deepEqual(await firstLine(holder), { opened: true });
    assert.throws(() => Store.open(dir), StoreLockedError);
    holder.stdin.close();
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    Store.open(dir).close();
    // A SIGKILLed holder releases the lock with its process.
    const killed = child(dir, "hold");
    assert.deepEqual(await firstLine(killed), { opened: true });
    killed.kill("SIGKILL");
    await killed.status;
    await killed.stdout.cancel().catch(() => {});
    killed.stdin.close();
    Store.open(dir).close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
