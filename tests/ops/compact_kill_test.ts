/**
 * A real process SIGKILLed at random points of a compaction of a real
 * directory: the next open finds every live event byte-identical and a clean
 * `verify()`, and a second compaction finishes the job (no erased secret left
 * in any file).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Coordinate, Region, Store } from "../../mod.ts";
import { dump, KIND_A } from "../fixtures/store_helpers.ts";
import { mulberry32 } from "../crash/workload.ts";

const CHILD = fileURLToPath(new URL("../fixtures/compact_child.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const SECRET = "ERASE-ME-";
const KILLS = 6;

function copyDir(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const f of Deno.readDirSync(from)) {
    if (f.isFile) Deno.copyFileSync(`${from}/${f.name}`, `${to}/${f.name}`);
  }
}

function filesContain(dir: string, needle: string): string[] {
  const found: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  for (const f of Deno.readDirSync(dir)) {
    const data = Deno.readFileSync(`${dir}/${f.name}`);
    outer: for (let i = 0; i + bytes.length <= data.length; i++) {
      for (let j = 0; j < bytes.length; j++) if (data[i + j] !== bytes[j]) continue outer;
      found.push(f.name);
      break;
    }
  }
  return found;
}

Deno.test("compact: SIGKILL at random points of a compaction loses nothing; a rerun erases everything", async () => {
  const base = Deno.makeTempDirSync({ prefix: "compact-kill-" });
  try {
    const src = `${base}/src`;
    const store = Store.open({ dataDir: src, segmentMaxBytes: 64 * 1024 });
    for (let i = 0; i < 12_000; i++) {
      const gone = i % 4 === 0;
      store.append(new Coordinate(`${gone ? "gone" : "keep"}:${i % 40}`, "s"), KIND_A, {
        i,
        text: gone ? `${SECRET}${i}` : `kept-${i}`,
        pad: "x".repeat(80),
      });
    }
    for (let e = 0; e < 40; e += 4) store.deleteStream(`gone:${e}`);
    const before = dump(store);
    const order = store.query(Region.all().withSystem()).map((e) => e.eventId);
    store.close();
    assert.ok(filesContain(src, SECRET).length > 0);
    const rng = mulberry32(20261201);
    let killedMidway = 0;
    for (let k = 0; k < KILLS; k++) {
      const dir = `${base}/kill${k}`;
      copyDir(src, dir);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", CONFIG, CHILD, dir],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      // Kill after a seeded number of progress lines (0 = right after READY), or at the end.
      const killAfter = Math.floor(rng() * 12);
      let text = "";
      let progress = -1;
      while (progress < killAfter && !text.includes("DONE")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        progress = (text.match(/PROGRESS/g) ?? []).length;
        if (text.includes("READY") && progress < 0) progress = 0;
      }
      child.kill("SIGKILL");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      if (!text.includes("DONE")) killedMidway++;
      const again = Store.open(dir);
      const where = `kill ${k} after ${progress} segments`;
      assert.deepEqual(dump(again), before, where);
      assert.deepEqual(
        again.query(Region.all().withSystem()).map((e) => e.eventId),
        order,
        `${where}: global order`,
      );
      assert.deepEqual(again.verify().problems, [], where);
      await again.compact();
      again.close();
      assert.deepEqual(filesContain(dir, SECRET), [], `${where}: secrets left after the rerun`);
      Deno.removeSync(dir, { recursive: true });
    }
    assert.ok(killedMidway >= KILLS / 2, `only ${killedMidway} kills landed mid-compaction`);
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});
