/**
 * Model-based property test (TARGETS.md R9): random sequences of every
 * public operation — append / appendBatch with CAS, idempotency keys
 * (retries, reuse with another entity or kind, twice in one batch), fences
 * (claim, renew, takeover, release, fenced appends with current, stale and
 * forged fences, a simulated clock), guaranteed cursors, saveCursor /
 * loadCursor, every read (get, stream, readStream, lastSequence, query,
 * queryAfter over Region.all / entity / stream / scope), sync, durable,
 * crashes (power loss, optionally with torn writes), reopens through each
 * open path (image, checkpoint, rebuild), close — against a real `Store` on
 * a `MemoryFileSystem`, compared after every command with a small model of
 * the contract in API.md (tests/fixtures/model/model.ts).
 *
 * Environment:
 * - `MODEL_SEED`   seed (default: random; printed at the start)
 * - `MODEL_OPS`    operations to run, at least (default 100000)
 * - `MODEL_PATH`   with MODEL_SEED: replay one fast-check counterexample path
 * - `MODEL_COMMANDS_PATH` with MODEL_PATH: fast-check's replay hint for the command list
 * - `MODEL_OFF`    comma-separated laws / features to switch off (see LAWS in
 *                  tests/fixtures/model/world.ts; `MODEL_OFF=list` prints them)
 * - `MODEL_LOSSY`  `neg-zero,holes`: accept -0 → 0 and holes → null (default `holes`:
 *                  the README's payload row documents that array holes read back as
 *                  null, as in JSON; -0 round-trips exactly)
 * - `MODEL_MAX_COMMANDS` commands per run (default 150)
 * - `MODEL_MINIMIZE_MS` time for minimizing a failure after fast-check's shrink (default 60000)
 *
 * Replay a failure with the command it prints, e.g.
 * `MODEL_SEED=123 MODEL_PATH="4:1:0" deno test -A tests/system/model_test.ts`.
 *
 * @module
 */

import fc from "fast-check";
import { type Cmd, commandArb, poolsArb, withTrace } from "../fixtures/model/commands.ts";
import { Model } from "../fixtures/model/model.ts";
import {
  fullCheck,
  type Knobs,
  LAWS,
  type OpenPath,
  type Pools,
  type RunConfig,
  timings,
  totals,
  World,
} from "../fixtures/model/world.ts";

const env = (name: string): string | undefined => Deno.env.get(name) || undefined;
const OFF = new Set((env("MODEL_OFF") ?? "").split(",").map((s) => s.trim()).filter(Boolean));
const LOSSY = new Set(
  (env("MODEL_LOSSY") ?? "holes").split(",").map((s) => s.trim()).filter(Boolean),
);
const OPS = Number(env("MODEL_OPS") ?? 100_000);
const MAX_COMMANDS = Number(env("MODEL_MAX_COMMANDS") ?? 150);
const RUNS_PER_ROUND = 40;
const SEED = env("MODEL_SEED") !== undefined
  ? Number(env("MODEL_SEED"))
  : (Math.random() * 2 ** 31) | 0;
const PATH = env("MODEL_PATH");
/** fast-check's replay hint of the command list (a command shrink depends on what ran). */
const COMMANDS_PATH = env("MODEL_COMMANDS_PATH");
const T0 = 1_700_000_000_000;
/** Time the minimizer may spend after fast-check's shrink. */
const MINIMIZE_MS = Number(env("MODEL_MINIMIZE_MS") ?? 60_000);

const knobs: Knobs = {
  off: OFF,
  lossy: { negZero: LOSSY.has("neg-zero"), holes: LOSSY.has("holes") },
};

const configArb: fc.Arbitrary<RunConfig> = fc.record({
  // Mostly small segments: rotations, and no 1 MiB preallocation per segment (fast crashes).
  segmentMaxBytes: fc.constantFrom<number | undefined>(undefined, 256, 1024, 1024, 4096, 65536),
  everyNEvents: fc.constantFrom(1, 3, 1000, 1000),
  mode: fc.constantFrom<"data" | "all">("data", "all"),
  fdBudget: fc.constantFrom(1, 2, 64),
  firstPath: fc.constantFrom<OpenPath>("image", "checkpoint", "rebuild"),
}, { requiredKeys: ["everyNEvents", "mode", "fdBudget", "firstPath"] });

/** One run: a fresh store, the commands, a full check at the end. */
async function scenario(
  cfg: RunConfig,
  pools: Pools,
  cmds: Iterable<fc.AsyncCommand<Model, World>>,
): Promise<void> {
  totals.runs++;
  const model = new Model(T0);
  const world = new World(cfg, pools, knobs, model);
  world.open(cfg.firstPath);
  try {
    await fc.asyncModelRun(() => ({ model, real: world }), cmds);
    try {
      fullCheck(world, "end of run");
    } catch (e) {
      world.trace.push("(end of run: full check)");
      throw withTrace(world, e);
    }
  } finally {
    try {
      world.store.close();
    } catch { /* a crashed or failed run */ }
  }
}

const property = fc.asyncProperty(
  configArb,
  poolsArb(OFF),
  fc.commands([commandArb(OFF)], {
    maxCommands: MAX_COMMANDS,
    size: "max",
    replayPath: COMMANDS_PATH,
  }),
  scenario,
);

const lawOf = (e: unknown) => /^\[([^\]]+)\]/.exec((e as Error)?.message ?? "")?.[1];

/**
 * fast-check's command shrinker only tries a few candidates on long runs;
 * this pass drops commands one at a time and simplifies their arguments
 * while the same law still fails (deterministic: replays print the same).
 */
async function minimize(
  cfg: RunConfig,
  pools: Pools,
  cmds: Cmd[],
  law: string,
): Promise<{ cmds: Cmd[]; error: unknown }> {
  const fails = async (list: Cmd[]): Promise<unknown> => {
    try {
      await scenario(cfg, pools, list);
      return undefined;
    } catch (e) {
      return lawOf(e) === law ? e : undefined;
    }
  };
  let best = cmds;
  let error = await fails(best);
  if (error === undefined) return { cmds, error };
  const deadline = performance.now() + MINIMIZE_MS;
  for (let changed = true; changed && performance.now() < deadline;) {
    changed = false;
    for (let i = best.length - 1; i >= 0 && performance.now() < deadline; i--) {
      const without = best.filter((_, j) => j !== i);
      const e = await fails(without);
      if (e !== undefined) {
        best = without;
        error = e;
        changed = true;
      }
    }
    for (let i = 0; i < best.length && performance.now() < deadline; i++) {
      for (const simpler of best[i].simpler()) {
        const candidate = best.map((c, j) => (j === i ? simpler : c));
        const e = await fails(candidate);
        if (e !== undefined) {
          best = candidate;
          error = e;
          changed = true;
          break;
        }
      }
    }
  }
  return { cmds: best, error };
}

function replayCommand(seed: number, path: string | undefined, commandsPath?: string): string {
  const vars = [`MODEL_SEED=${seed}`];
  if (path !== undefined) vars.push(`MODEL_PATH="${path}"`);
  if (commandsPath !== undefined) vars.push(`MODEL_COMMANDS_PATH="${commandsPath}"`);
  if (OFF.size) vars.push(`MODEL_OFF=${[...OFF].join(",")}`);
  if (LOSSY.size) vars.push(`MODEL_LOSSY=${[...LOSSY].join(",")}`);
  if (env("MODEL_MAX_COMMANDS")) vars.push(`MODEL_MAX_COMMANDS=${MAX_COMMANDS}`);
  return `${vars.join(" ")} deno test -A tests/system/model_test.ts`;
}

Deno.test("model-based: random operation sequences agree with the model of API.md", async () => {
  if (OFF.has("list")) {
    for (const [law, text] of Object.entries(LAWS)) console.log(`${law.padEnd(18)} ${text}`);
    return;
  }
  for (const law of OFF) {
    if (!(law in LAWS)) {
      throw new Error(`MODEL_OFF: unknown law ${law} (MODEL_OFF=list lists them)`);
    }
  }
  console.log(
    `model test: seed ${SEED}, at least ${OPS} operations, ≤ ${MAX_COMMANDS} commands per run` +
      (OFF.size ? `, off: ${[...OFF].join(",")}` : "") +
      `\n  replay: ${replayCommand(SEED, PATH)}`,
  );
  const started = performance.now();
  let round = 0;
  while (totals.ops < OPS || (PATH !== undefined && round === 0)) {
    const seed = (SEED + round) | 0;
    const details = await fc.check(property, {
      seed,
      numRuns: RUNS_PER_ROUND,
      path: PATH,
      endOnFailure: false,
    });
    if (details.failed) {
      const error = details.errorInstance as Error | undefined;
      const law = lawOf(error) ?? "unexpected";
      let minimized = "";
      const example = details.counterexample;
      const commandsPath = example
        ? /replayPath="([^"]*)"/.exec(String(example[2]))?.[1]
        : undefined;
      if (example && MINIMIZE_MS > 0) {
        const [cfg, pools, iterable] = example;
        const wrappers = [...(iterable as Iterable<unknown>)] as { cmd?: Cmd; hasRan?: boolean }[];
        const ran = wrappers.filter((w) => w.hasRan !== false).map((w) => (w.cmd ?? w) as Cmd);
        const before = totals.runs;
        const result = await minimize(cfg, pools, ran, law);
        if (result.error !== undefined) {
          minimized =
            `\nminimized (${
              totals.runs - before
            } more runs) from ${ran.length} to ${result.cmds.length} commands:\n` +
            (result.error as Error).message;
        }
      }
      const message = [
        `model test FAILED: law [${law}] (seed ${details.seed}, path ${details.counterexamplePath}, ` +
        `shrunk ${details.numShrinks} times)`,
        `replay: ${
          replayCommand(details.seed, details.counterexamplePath ?? undefined, commandsPath)
        }`,
        law in LAWS
          ? `look past it: MODEL_OFF=${[...OFF, law].join(",")}`
          : `[${law}] cannot be switched off; switch off the feature that triggers it (MODEL_OFF=list)`,
        minimized,
        "",
        "fast-check's counterexample:",
        error?.message ?? String(error),
      ].join("\n");
      throw new Error(message);
    }
    round++;
    if (PATH !== undefined) break;
  }
  const s = (performance.now() - started) / 1000;
  console.log(
    `model test: ${totals.ops} operations in ${totals.runs} runs (${totals.events} events, ${totals.crashes} crashes, ` +
      `${totals.reopens} reopens) in ${s.toFixed(1)} s = ${Math.round(totals.ops / s)} ops/s`,
  );
  if (env("MODEL_STATS")) {
    for (const [name, [ok, rejected]] of [...totals.byCommand].sort()) {
      console.log(
        `  ${name.padEnd(28)} ${String(ok).padStart(7)} ok ${
          String(rejected).padStart(7)
        } rejected`,
      );
    }
    for (const [name, [n, run, check]] of [...timings].sort((a, b) => b[1][1] - a[1][1])) {
      console.log(
        `  ${name.padEnd(16)} ${String(n).padStart(7)} × ${(run / n).toFixed(3)} ms + check ${
          (check / n).toFixed(3)
        } ms = ${((run + check) / 1000).toFixed(2)} s`,
      );
    }
  }
});
