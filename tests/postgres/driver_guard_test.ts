/**
 * The guard against postgres.js's write race (src/postgres/_driver.ts): a
 * write queued with `setImmediate` that runs after the server closed the
 * connection throws from the timer and would end the process. Needs no
 * server: child processes load a module laid out as postgres.js's
 * `src/connection.js` and throw that error (or another) from a timer.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isWriteRace } from "../../src/postgres/_driver.ts";

const DRIVER = new URL("../../src/postgres/_driver.ts", import.meta.url).href;
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** The TypeError V8 throws for `null.write(...)`, with `stack` as given. */
function raceError(stack: string): TypeError {
  const e = new TypeError("Cannot read properties of null (reading 'write')");
  e.stack = `TypeError: ${e.message}\n${stack}`;
  return e;
}

Deno.test("postgres write-race guard: recognises exactly postgres.js's nextWrite null-socket error", () => {
  const frames = [
    "    at Immediate.nextWrite (file:///root/.cache/deno/npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:22)",
    "    at nextWrite (file:///app/node_modules/postgres/src/connection.js:255:15)",
  ];
  for (const f of frames) assert.equal(isWriteRace(raceError(f)), true, f);
  const others: [string, unknown][] = [
    ["another frame", raceError("    at nextWrite (file:///app/src/mine.js:1:1)")],
    ["another function", raceError(frames[0].replace("nextWrite", "write"))],
    ["another message", Object.assign(new TypeError("x is null"), { stack: frames[0] })],
    [
      "another error type",
      Object.assign(new Error(raceError(frames[0]).message), { stack: frames[0] }),
    ],
    ["not an error", "Cannot read properties of null (reading 'write')"],
    ["no stack", Object.assign(raceError(frames[0]), { stack: undefined })],
  ];
  for (const [what, e] of others) assert.equal(isWriteRace(e), false, what);
});

/** Run a child that throws `kind` from a timer in a postgres.js-shaped module; its exit code. */
async function child(
  kind: "race" | "other",
  guard: boolean,
): Promise<{ code: number; out: string }> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/postgres/src`, { recursive: true });
    // The same shape as postgres.js: a small write queued with setImmediate, the socket
    // nulled by a close before it runs.
    await Deno.writeTextFile(
      `${dir}/postgres/src/connection.js`,
      `import { setImmediate } from "node:timers";
let socket = { write() {} };
export function queueWrite(kind) {
  setImmediate(function nextWrite() {
    if (kind === "race") socket.write("x");
    else undefined.other;
  });
  socket = null;
}
`,
    );
    const main = `${dir}/main.ts`;
    await Deno.writeTextFile(
      main,
      `import { holdWriteRaceGuard, writeRacesStopped } from ${JSON.stringify(DRIVER)};
import { queueWrite } from "./postgres/src/connection.js";
${guard ? "const release = holdWriteRaceGuard();" : ""}
queueWrite(${JSON.stringify(kind)});
setTimeout(() => {
  console.log("alive", writeRacesStopped());
  ${guard ? "release();" : ""}
}, 100);
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, main],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { code: out.code, out: text };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("postgres write-race guard: held, the race's error does not end the process and is counted", async () => {
  const held = await child("race", true);
  assert.equal(held.code, 0, held.out);
  assert.match(held.out, /alive 1/);
  // Without the guard the same error ends the process: what the guard is for.
  const bare = await child("race", false);
  assert.notEqual(bare.code, 0, bare.out);
  assert.match(bare.out, /reading 'write'/);
});

Deno.test("postgres write-race guard: any other uncaught error still ends the process", async () => {
  const other = await child("other", true);
  assert.notEqual(other.code, 0, other.out);
  assert.match(other.out, /reading 'other'/);
});
