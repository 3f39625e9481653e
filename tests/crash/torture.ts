/**
 * R1, real crashes: a child Deno process appends to a store in a real
 * temporary directory and is killed with SIGKILL at a seeded moment; the
 * parent reopens the directory and checks the oracle (./oracle.ts), proves
 * the store writable, and starts the next child on the recovered state.
 *
 * Usage: `deno run -A tests/crash/torture.ts [--kills 200] [--seed S] [--keep]`
 *
 * Some rounds verify a copy of the directory and hand the original, torn
 * tail and all, to the next child, so recovery itself runs (and is killed)
 * in the child too. Some children finish their op budget and close cleanly;
 * they do not count as kills.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Coordinate, Store, type StoreConfig } from "../../mod.ts";
import { type Candidate, checkStore, type Rec, toRec } from "./oracle.ts";
import { type Ack, canonical, itemsOf, KIND_PROBE, mixSeed, Rng, workload } from "./workload.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, "torture_child.ts");
const CONFIG = join(HERE, "..", "..", "deno.json");
/** A child that prints nothing for this long is hung. */
const CHILD_READY_TIMEOUT_MS = 60_000;
/** Op budget of a child meant to be killed (it never gets there). */
const BUDGET_UNBOUNDED = 1_000_000;

/** Options of {@linkcode runTorture}. */
export interface TortureOptions {
  /** Kills to deliver. */
  kills: number;
  /** Seed of the kill schedule, configs and workload. */
  seed: number;
  /** Keep the directory (printed) instead of removing it. */
  keep?: boolean;
  /** Progress output (default: none). */
  log?: (line: string) => void;
}

/** What a torture run measured. */
export interface TortureSummary {
  seed: number;
  kills: number;
  killsBeforeReady: number;
  cleanExits: number;
  rounds: number;
  /** Acknowledged-durable events checked against the reopened store. */
  ackedChecked: number;
  /** Events read back and compared, over all reopens. */
  eventsVerified: number;
  /** Events in the store at the end. */
  finalEvents: number;
  /** Reopens that cut a torn tail. */
  tailCuts: number;
  truncatedBytes: number;
  /** Idempotency retries that returned the first receipt. */
  dedupChecks: number;
  /** Compactions the children finished (each one redacted a secret and rewrote segments). */
  compactions: number;
  /** Open paths of the parent's reopens. */
  paths: Record<string, number>;
  /** Rounds whose original directory went to the next child unrecovered. */
  copyVerified: number;
  elapsedMs: number;
  /** The first violation, with its round; absent when clean. */
  failure?: string;
  dir: string;
}

function childConfig(rng: Rng): Omit<StoreConfig, "dataDir"> {
  return {
    segmentMaxBytes: rng.pick([4096, 16_384, 65_536, 1 << 20, 64 << 20]),
    sync: { everyNEvents: rng.pick([1, 10, 100, 1000]), mode: rng.chance(0.8) ? "data" : "all" },
    enableMmapIndex: rng.chance(0.75),
  };
}

function copyDir(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isFile) Deno.copyFileSync(join(from, e.name), join(to, e.name));
  }
}

interface ChildRun {
  lines: Record<string, unknown>[];
  killed: boolean;
  beforeReady: boolean;
  code: number;
  stderr: string;
}

async function runChild(
  dir: string,
  seed: number,
  round: number,
  budget: number,
  config: Omit<StoreConfig, "dataDir">,
  kill: { early: boolean; delayMs: number },
): Promise<ChildRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      CONFIG,
      CHILD,
      dir,
      String(seed),
      String(round),
      String(budget),
      JSON.stringify(config),
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  let ready!: () => void;
  const readyP = new Promise<void>((r) => ready = r);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    ready();
    return s;
  });
  const stderrP = new Response(child.stderr).text();
  const stdoutP = (async () => {
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const obj = JSON.parse(line);
        lines.push(obj);
        if (obj.t === "ready") ready();
      }
    }
    // A partial last line was cut by the kill: it acknowledged nothing.
  })();
  let killed = false;
  let beforeReady = false;
  const killNow = () => {
    if (exited) return;
    beforeReady = !lines.some((l) => l.t === "ready");
    try {
      child.kill("SIGKILL");
      killed = true;
    } catch { /* already exited */ }
  };
  if (kill.early) {
    await new Promise((r) => setTimeout(r, kill.delayMs));
    killNow();
  } else {
    const timeout = setTimeout(killNow, CHILD_READY_TIMEOUT_MS);
    await readyP;
    clearTimeout(timeout);
    if (!exited) {
      await new Promise((r) => setTimeout(r, kill.delayMs));
      killNow();
    }
  }
  const s = await status;
  await stdoutP;
  const stderr = await stderrP;
  return { lines, killed: killed && s.signal === "SIGKILL", beforeReady, code: s.code, stderr };
}

/** Deliver `options.kills` SIGKILLs in a row, checking the oracle after each. */
export async function runTorture(options: TortureOptions): Promise<TortureSummary> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const dir = Deno.makeTempDirSync({ prefix: "batpak_torture_" });
  const summary: TortureSummary = {
    seed: options.seed,
    kills: 0,
    killsBeforeReady: 0,
    cleanExits: 0,
    rounds: 0,
    ackedChecked: 0,
    eventsVerified: 0,
    finalEvents: 0,
    tailCuts: 0,
    truncatedBytes: 0,
    dedupChecks: 0,
    compactions: 0,
    paths: {},
    copyVerified: 0,
    elapsedMs: 0,
    dir,
  };
  let committed: Rec[] = [];
  try {
    for (let round = 1; summary.kills < options.kills; round++) {
      summary.rounds = round;
      const rng = new Rng(mixSeed(options.seed, round, 0xc0ffee));
      const config = childConfig(rng);
      const finishes = rng.chance(0.05);
      const budget = finishes ? rng.int(1, 40) : BUDGET_UNBOUNDED;
      const kill = rng.chance(0.12)
        ? { early: true, delayMs: rng.int(0, 600) }
        : { early: false, delayMs: rng.int(0, 300) };
      const run = await runChild(dir, options.seed, round, budget, config, kill);
      const where = `seed ${options.seed} round ${round}`;
      const errorLine = run.lines.find((l) => l.t === "error");
      if (errorLine) throw new Error(`${where}: the child failed: ${errorLine.message}`);
      if (!run.killed && run.code !== 0) {
        throw new Error(`${where}: the child exited with ${run.code}: ${run.stderr.slice(-2000)}`);
      }
      if (run.killed) {
        summary.kills++;
        if (run.beforeReady) summary.killsBeforeReady++;
      } else summary.cleanExits++;
      for (const l of run.lines) if (l.t === "compacted") summary.compactions++;
      for (const l of run.lines) {
        if (l.t !== "dedup") continue;
        if (!l.ok) throw new Error(`${where}: idempotency violated: ${l.detail}`);
        summary.dedupChecks++;
      }
      // What the child appended, in order, from the pure workload.
      const acks = new Map<number, Ack>();
      for (const l of run.lines) if (l.t === "a") acks.set(l.g as number, l as unknown as Ack);
      const base = committed.length;
      const planned: Candidate[] = [];
      let budgetItems = 0;
      const ops = workload(options.seed, round);
      let opsTaken = 0;
      const candidate = (g: number): Candidate | undefined => {
        while (planned.length < g - base && opsTaken < budget) {
          const op = ops.next().value!;
          opsTaken++;
          for (const item of itemsOf(op)) {
            planned.push({
              entity: item.entity,
              kind: item.kind,
              payload: canonical(item.payload),
            });
          }
          if (opsTaken <= budget) budgetItems = planned.length;
        }
        const c = planned[g - base - 1];
        const a = acks.get(g);
        return c && a
          ? { ...c, eventId: a.eventId, eventHash: a.eventHash, sequence: a.sequence }
          : c;
      };
      let mustHave = 0;
      for (const g of acks.keys()) if (g > mustHave) mustHave = g;
      if (!run.killed) {
        candidate(Number.MAX_SAFE_INTEGER); // a clean exit wrote its whole budget
        mustHave = base + budgetItems;
      }
      // Verify a copy now and then, so the next child meets the torn tail itself.
      const onCopy = run.killed && rng.chance(0.25);
      const verifyDir = onCopy ? `${dir}.copy${round}` : dir;
      if (onCopy) {
        copyDir(dir, verifyDir);
        summary.copyVerified++;
      }
      const store = Store.open({ dataDir: verifyDir, enableMmapIndex: rng.chance(0.7) });
      try {
        const report = store.diagnostics().openReport;
        summary.paths[report.path] = (summary.paths[report.path] ?? 0) + 1;
        if (report.truncatedBytes > 0) {
          summary.tailCuts++;
          summary.truncatedBytes += report.truncatedBytes;
        }
        const result = checkStore(store, { committed, candidate, mustHave });
        if (!run.killed && result.records.length !== mustHave) {
          result.problems.push(
            `clean exit: ${mustHave} events expected, ${result.records.length} found`,
          );
        }
        const problems = [...result.problems, ...result.loud];
        if (problems.length > 0) {
          throw new Error(`${where}: oracle violated:\n  ${problems.join("\n  ")}`);
        }
        summary.ackedChecked += acks.size;
        summary.eventsVerified += result.records.length;
        // Writable again: a durable probe lands right after the recovered log.
        const probe = store.append(new Coordinate("probe", "probe"), KIND_PROBE, { probe: round });
        await store.durable();
        if (probe.globalSequence !== result.records.length + 1) {
          throw new Error(`${where}: the probe got g=${probe.globalSequence}`);
        }
        committed = onCopy ? result.records : [...result.records, toRec(store.get(probe.eventId))];
        summary.finalEvents = committed.length;
        log(
          `round ${round}: ${run.killed ? "killed" : "clean exit"}${
            run.beforeReady ? " before ready" : ""
          }, ${acks.size} acked, ${result.records.length} events, path ${report.path}` +
            `${report.truncatedBytes ? `, cut ${report.truncatedBytes} B` : ""}${
              onCopy ? ", verified a copy" : ""
            } — kills ${summary.kills}/${options.kills}`,
        );
      } finally {
        store.close();
        if (onCopy) Deno.removeSync(verifyDir, { recursive: true });
      }
    }
  } catch (e) {
    summary.failure = (e as Error).message;
  } finally {
    summary.elapsedMs = performance.now() - started;
    if (!options.keep && summary.failure === undefined) Deno.removeSync(dir, { recursive: true });
  }
  return summary;
}

function arg(name: string, fallback: number): number {
  // The last occurrence wins, so `deno task sim --seeds 50` overrides the task's own --seeds.
  const i = Deno.args.lastIndexOf(`--${name}`);
  if (i >= 0) return Number(Deno.args[i + 1]);
  const eq = Deno.args.findLast((a) => a.startsWith(`--${name}=`));
  return eq ? Number(eq.split("=")[1]) : fallback;
}

if (import.meta.main) {
  const kills = arg("kills", 200);
  const seed = arg("seed", Date.now() % 1_000_000);
  console.log(`torture: ${kills} SIGKILLs, seed ${seed} (replay the schedule with --seed ${seed})`);
  const s = await runTorture({
    kills,
    seed,
    keep: Deno.args.includes("--keep"),
    log: (l) => console.log(l),
  });
  console.log(
    `\n${s.failure ? "FAILED" : "OK"}: ${s.kills}/${kills} kills clean` +
      ` (${s.killsBeforeReady} during startup/open), ${s.cleanExits} clean exits, ${s.rounds} rounds,` +
      ` ${s.ackedChecked} acknowledged-durable events checked, ${s.eventsVerified} event reads compared,` +
      ` ${s.finalEvents} events at the end, ${s.tailCuts} torn tails cut (${s.truncatedBytes} B),` +
      ` ${s.copyVerified} recoveries left to the next child, ${s.dedupChecks} idempotency retries,` +
      ` ${s.compactions} compactions,` +
      ` open paths ${JSON.stringify(s.paths)}, ${(s.elapsedMs / 1000).toFixed(1)} s`,
  );
  if (s.failure) {
    console.log(`\n${s.failure}\nseed ${seed}; directory kept: ${s.dir}`);
    Deno.exit(1);
  }
}
