/**
 * R2, deterministic simulation: the seeded workload (./workload.ts) runs
 * against a {@linkcode MemoryFileSystem} that injects faults at seeded
 * points, then crashes (optionally keeping a torn prefix of unsynced bytes)
 * or closes, and the store is reopened and checked by the oracle
 * (./oracle.ts). Everything (workload, configs, clock, fault points, crash
 * tears) derives from the seed, so `--seed S` replays a run exactly.
 *
 * Usage: `deno run -A tests/crash/sim.ts [--seeds N] [--start S] [--seed S] [--verbose]`
 *
 * Faults per epoch (one plan each): EIO/ENOSPC on a write, EIO on an fsync,
 * a torn write (a prefix lands, then EIO), short reads (at least one byte: a
 * read of 0 bytes means end of file by the `FileHandle` contract), during
 * the workload and during the next open's recovery, EIO on a read or on
 * any operation, a "kill" (every operation from a seeded point on fails, as
 * if the process died there, during the workload or during open), and
 * dropped fsyncs (a lying disk).
 *
 * The oracle is strict (every acknowledged event back, byte-identical) for
 * every plan except dropped fsyncs: a disk that reports a sync it did not do
 * may legitimately lose acknowledged data. After such a crash the oracle
 * checks that nothing is silently wrong instead: the store either fails
 * closed with `CorruptSegmentError`, or opens and returns only events that
 * the workload really wrote at those positions, with no gap, no partial
 * batch, and `verify()` clean (a `verify()` problem is loud, so it is
 * tolerated there and ends the seed).
 *
 * After every I/O failure of the log (R6) the writer must be poisoned: the
 * next append throws `WriterPoisonedError`, `durable()` rejects, and reads of
 * earlier events still work.
 *
 * @module
 */

import {
  type AppendReceipt,
  Coordinate,
  CorruptSegmentError,
  StorageFullError,
  Store,
  type StoreConfig,
  WriterPoisonedError,
} from "../../mod.ts";
import { type FsFault, type FsOp, MemoryFileSystem } from "../../testing.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFrame } from "../../src/log/frame.ts";
import { SEGMENT_HEADER_BYTES } from "../../src/log/segment.ts";
import { type Candidate, checkStore, type Rec, toRec } from "./oracle.ts";
import { canonical, Executor, type Item, KIND_PROBE, mixSeed, Rng, workload } from "./workload.ts";

/** The fault plan of one epoch. */
export type FaultPlan =
  | "none"
  | "eio-write"
  | "enospc-write"
  | "eio-sync"
  | "torn-write"
  | "short-read"
  | "eio-read"
  | "eio-any"
  | "kill"
  | "kill-in-open"
  | "drop-sync";

const PLANS: readonly FaultPlan[] = [
  "none",
  "eio-write",
  "enospc-write",
  "eio-sync",
  "torn-write",
  "short-read",
  "eio-read",
  "eio-any",
  "kill",
  "kill-in-open",
  "drop-sync",
];

/** How an epoch ends. */
type Ending = "crash" | "crash-torn" | "close" | "close-crash";

/** What one seed did. */
export interface SimResult {
  seed: number;
  ok: boolean;
  /** The first violation. */
  failure?: string;
  /** What happened, step by step (printed on failure). */
  trace: string[];
  epochs: number;
  crashes: number;
  /** Faults that fired, by plan. */
  faults: Partial<Record<FaultPlan, number>>;
  /** Acknowledged-durable events the strict oracle checked. */
  ackedChecked: number;
  /** Poisoned-writer checks passed (R6). */
  poisonChecks: number;
  /** Compactions that finished (each redacted a secret and rewrote segments). */
  compactions: number;
  /** Lying-disk outcomes: opened clean, failed closed, detected by verify. */
  lying: { recovered: number; failedClosed: number; detectedByVerify: number; lostAcked: number };
}

const DATA_DIR = "/db";
const SEGMENT_SIZES = [256, 1024, 4096, 4096, 65_536, 65_536, 65_536, 1 << 20, 1 << 20, 1 << 20];
/** `SIM_DEBUG=1`: a more detailed trace (acks, files after each crash). */
const DEBUG = Deno.env.get("SIM_DEBUG") === "1";
const EPOCHS_MIN = 3;
const EPOCHS_MAX = 6;
const OPS_PER_EPOCH_MAX = 40;
/** Relative fs-op numbers a fault point is drawn from. */
const FAULT_WINDOW_OPS = 160;
/** Kill-in-open: fs ops into the open. */
const OPEN_KILL_WINDOW_OPS = 30;

class Violation extends Error {}

/** Debug: the frames of a segment, as `offset:kind[g]`. */
function describeFrames(buf: Uint8Array): string {
  const out: string[] = [];
  let at = SEGMENT_HEADER_BYTES;
  while (at < buf.length) {
    const f = parseFrame(buf, at);
    if (typeof f === "string") {
      const zeros = buf.subarray(at).every((b) => b === 0);
      out.push(`${at}:${f}${zeros ? " (zeros to the end)" : ""}`);
      break;
    }
    const g = f.kind === 1
      ? new DataView(buf.buffer, buf.byteOffset).getUint32(f.bodyAt + 20, true)
      : 0;
    out.push(`${at}:${f.kind}${g ? `[g${g}]` : ""}`);
    at += f.frameLength;
  }
  return out.join(" ");
}

function isWriteOfLog(op: FsOp): boolean {
  return op.path.endsWith(".fbat") &&
    (op.kind === "write" || op.kind === "sync" || op.kind === "syncData" ||
      op.kind === "truncate");
}

/** Run one seed. Never throws: a violation is returned in `failure`. */
export async function runSeed(seed: number): Promise<SimResult> {
  const rng = new Rng(mixSeed(seed, 0x51a));
  const trace: string[] = [];
  const result: SimResult = {
    seed,
    ok: true,
    trace,
    epochs: 0,
    crashes: 0,
    faults: {},
    ackedChecked: 0,
    poisonChecks: 0,
    compactions: 0,
    lying: { recovered: 0, failedClosed: 0, detectedByVerify: 0, lostAcked: 0 },
  };
  let fs = new MemoryFileSystem();
  let now = 1_700_000_000_000;
  const clockRng = new Rng(mixSeed(seed, 0xc10c));
  const faultRng = new Rng(mixSeed(seed, 0xfa17));
  const clock = () => (now += clockRng.int(0, 3));
  let committed: Rec[] = [];
  /** What the epoch appended past `committed`, in g order. */
  let pending: Candidate[] = [];
  let mustHave = 0;
  let lying = false;

  const config = (): StoreConfig => ({
    dataDir: DATA_DIR,
    fs,
    clock,
    // Tiny segments rotate at almost every append; each new segment preallocates 1 MiB.
    segmentMaxBytes: rng.pick(SEGMENT_SIZES),
    sync: { everyNEvents: rng.pick([1, 3, 50, 1000]), mode: rng.chance(0.8) ? "data" : "all" },
    enableMmapIndex: rng.chance(0.7),
    enableCheckpoint: rng.chance(0.8),
  });

  /** Open and check against what is known; returns undefined when the seed must end. */
  const openAndCheck = async (
    why: string,
    readFault?: "short-read" | "eio-read",
  ): Promise<Store | undefined> => {
    let store: Store;
    try {
      if (readFault) {
        // Most reads happen here, in recovery: fault one of the first reads of the open.
        let left = faultRng.int(0, 12);
        let hit = false;
        fs.setFaultInjector((op) => {
          if (hit || op.kind !== "read" || left-- > 0) return undefined;
          hit = true;
          const length = op.length ?? 0;
          trace.push(`  ${readFault} on op #${op.seq} read ${op.path} +${length} during open`);
          result.faults[readFault] = (result.faults[readFault] ?? 0) + 1;
          return readFault === "short-read" && length > 1
            ? { shortRead: faultRng.int(1, length - 1) }
            : { error: "EIO" };
        });
        try {
          store = Store.open(config());
        } catch (e) {
          // An I/O error may fail the open; short reads must not, and a retry must succeed.
          if (!hit || readFault === "short-read") throw e;
          trace.push(`  the open failed: ${(e as Error).message.slice(0, 100)}; retrying`);
          fs.setFaultInjector(undefined);
          store = Store.open(config());
        }
        fs.setFaultInjector(undefined);
      } else store = Store.open(config());
    } catch (e) {
      if (lying && e instanceof CorruptSegmentError) {
        trace.push(`open after a lying disk failed closed: ${e.message}`);
        result.lying.failedClosed++;
        return undefined;
      }
      throw new Violation(`open (${why}) threw ${(e as Error).name}: ${(e as Error).message}`);
    }
    const base = committed.length;
    const res = checkStore(store, {
      committed,
      candidate: (g) => pending[g - base - 1],
      mustHave: lying ? 0 : mustHave,
    });
    let problems = res.problems;
    if (lying) {
      if (store.diagnostics().events < mustHave) result.lying.lostAcked++;
      if (problems.length === 0 && res.loud.length > 0) {
        trace.push(`after a lying disk, detected: ${res.loud[0]}`);
        result.lying.detectedByVerify++;
        store.close();
        return undefined;
      }
      if (problems.length === 0) result.lying.recovered++;
    } else {
      problems = [...problems, ...res.loud];
    }
    if (!lying && problems.length === 0) {
      result.ackedChecked += mustHave - base > 0 ? mustHave - base : 0;
    }
    if (problems.length > 0) {
      store.close();
      throw new Violation(`oracle after ${why}:\n  ${problems.join("\n  ")}`);
    }
    const report = store.diagnostics().openReport;
    trace.push(
      `open ok (${why}): ${res.records.length} events, path ${report.path}, cut ${report.truncatedBytes} B` +
        (report.rejectedSidecars.length ? `, rejected ${report.rejectedSidecars.join("; ")}` : ""),
    );
    // Writable again: a durable probe lands right after the recovered log.
    const probe = store.append(new Coordinate("probe", "probe"), KIND_PROBE, {
      probe: trace.length,
    });
    await store.durable();
    if (probe.globalSequence !== res.records.length + 1) {
      throw new Violation(`probe after ${why} got g=${probe.globalSequence}`);
    }
    committed = [...res.records, toRec(store.get(probe.eventId))];
    pending = [];
    mustHave = committed.length;
    lying = false;
    return store;
  };

  try {
    let store = await openAndCheck("create");
    const epochs = rng.int(EPOCHS_MIN, EPOCHS_MAX);
    for (let epoch = 1; epoch <= epochs && store; epoch++) {
      result.epochs = epoch;
      const plan = rng.pick(PLANS);
      // A dropped fsync loses data only at a crash: end with one, so the loss shows now and the
      // fresh disk after it is honest again (the strict oracle resumes).
      const ending: Ending = rng.pick(
        plan === "drop-sync"
          ? ["crash", "crash-torn", "close-crash"]
          : ["crash", "crash-torn", "close", "close-crash"],
      );
      const at = rng.int(0, FAULT_WINDOW_OPS);
      const ops = rng.int(1, OPS_PER_EPOCH_MAX);
      trace.push(`epoch ${epoch}: plan ${plan} at op +${at}, ${ops} ops, then ${ending}`);
      let fired: FsOp | undefined;
      let dropped = 0;
      let seen = 0;
      const injector = (op: FsOp): FsFault | undefined => {
        const k = seen++;
        if (DEBUG) {
          trace.push(
            `    op #${op.seq} ${op.kind} ${op.path} @${op.position ?? ""} +${op.length ?? ""}`,
          );
        }
        if (k < at) return undefined;
        const fire = (f: FsFault): FsFault => {
          if (!fired) {
            fired = op;
            result.faults[plan] = (result.faults[plan] ?? 0) + 1;
            trace.push(`  fault ${JSON.stringify(f)} on op #${op.seq} ${op.kind} ${op.path}`);
          }
          return f;
        };
        switch (plan) {
          case "kill":
            return fire({ error: "EIO" });
          case "drop-sync":
            if (
              (op.kind === "sync" || op.kind === "syncData" || op.kind === "syncDir") &&
              faultRng.chance(0.6)
            ) {
              dropped++;
              return fire({ dropSync: true });
            }
            return undefined;
        }
        if (fired) return undefined;
        switch (plan) {
          case "eio-write":
          case "enospc-write":
            return op.kind === "write"
              ? fire({ error: plan === "eio-write" ? "EIO" : "ENOSPC" })
              : undefined;
          case "eio-sync":
            return op.kind === "sync" || op.kind === "syncData"
              ? fire({ error: "EIO" })
              : undefined;
          case "torn-write":
            return op.kind === "write"
              ? fire({ tornWrite: faultRng.int(0, Math.max(0, (op.length ?? 1) - 1)) })
              : undefined;
          case "short-read":
            return op.kind === "read" && (op.length ?? 0) > 1
              ? fire({ shortRead: faultRng.int(1, (op.length ?? 1) - 1) })
              : undefined;
          case "eio-read":
            return op.kind === "read" ? fire({ error: "EIO" }) : undefined;
          case "eio-any":
            return fire({ error: "EIO" });
        }
        return undefined;
      };

      if (plan === "kill-in-open") {
        // The store is closed and reopened with death at a seeded point of the open.
        store.close();
        let left = rng.int(0, OPEN_KILL_WINDOW_OPS);
        fs.setFaultInjector((op) => {
          if (left-- > 0) return undefined;
          if (!fired) {
            fired = op;
            result.faults[plan] = (result.faults[plan] ?? 0) + 1;
            trace.push(`  killed at op #${op.seq} ${op.kind} ${op.path} during open`);
          }
          return { error: "EIO" };
        });
        try {
          Store.open(config());
          trace.push("  the open finished before the kill point");
        } catch (e) {
          trace.push(`  open died: ${(e as Error).message.slice(0, 120)}`);
        }
        fs = fs.crash({ seed: rng.int(0, 2 ** 31), tornWrites: rng.chance(0.5) });
        result.crashes++;
        store = await openAndCheck(`a kill during open, epoch ${epoch}`);
        continue;
      }

      fs.setFaultInjector(injector);
      let tentative: Item[] | undefined;
      const exec = new Executor(store, {
        attempt(items) {
          tentative = items;
        },
        written(items, receipts) {
          tentative = undefined;
          items.forEach((item, i) =>
            pending.push({
              entity: item.entity,
              kind: item.kind,
              payload: canonical(item.payload),
              eventId: receipts[i].eventId,
              eventHash: receipts[i].eventHash,
              sequence: receipts[i].sequence,
            })
          );
        },
        acked(acks) {
          for (const a of acks) if (a.g > mustHave) mustHave = a.g;
          if (DEBUG) trace.push(`  acked up to g=${mustHave}`);
        },
        dedup(ok, detail) {
          if (!ok) throw new Violation(`idempotency violated: ${detail}`);
        },
        compacted() {
          result.compactions++;
        },
      }, mixSeed(seed, epoch, 0x7e7));
      let failure: unknown;
      let done = 0;
      for (const op of workload(seed, epoch)) {
        if (done++ >= ops) break;
        if (DEBUG) trace.push(`  op ${op.t} (${JSON.stringify(op).length} chars)`);
        try {
          await exec.run(op);
        } catch (e) {
          if (e instanceof Violation) throw e;
          failure = e;
          break;
        }
      }
      if (tentative) {
        // The call that failed may have reached the OS: its events may survive, atomically.
        for (const item of tentative) {
          pending.push({ entity: item.entity, kind: item.kind, payload: canonical(item.payload) });
        }
      }
      if (failure !== undefined) {
        if (!fired) {
          throw new Violation(
            `op failed with no fault injected: ${(failure as Error).name}: ${
              (failure as Error).message
            }`,
          );
        }
        trace.push(`  surfaced: ${(failure as Error).name}: ${(failure as Error).message}`);
      }
      // R6: an I/O failure of the log poisons the writer; reads keep working. A full disk met
      // while allocating space (StorageFullError from the call itself) changed nothing and
      // leaves the store writable.
      const hitLog = fired !== undefined && plan !== "drop-sync" && plan !== "kill" &&
        isWriteOfLog(fired) && !(failure instanceof StorageFullError);
      if (hitLog) {
        fs.setFaultInjector(undefined);
        let probe: AppendReceipt | undefined;
        try {
          probe = store.append(new Coordinate("probe", "probe"), KIND_PROBE, { poisoned: true });
        } catch (e) {
          if (!(e instanceof WriterPoisonedError)) {
            throw new Violation(
              `append after ${plan} threw ${(e as Error).name}, not WriterPoisonedError`,
            );
          }
        }
        if (probe !== undefined) {
          // Only a full disk met while allocating space may leave the writer running: the
          // allocation is retried with just what the append needs, and nothing changed.
          if (plan !== "enospc-write") {
            throw new Violation(`append succeeded after ${plan} on ${fired!.kind} ${fired!.path}`);
          }
          pending.push({
            entity: "probe",
            kind: KIND_PROBE,
            payload: canonical({ poisoned: true }),
            eventId: probe.eventId,
            eventHash: probe.eventHash,
            sequence: probe.sequence,
          });
          fs.setFaultInjector(injector);
        }
      }
      if (hitLog && !pending.some((p) => p.entity === "probe")) {
        const durable = await store.durable().then(() => "resolved", (e) => e);
        if (!(durable instanceof WriterPoisonedError)) {
          throw new Violation(`durable() after ${plan}: ${String(durable)}`);
        }
        if (committed.length > 0) {
          const probe = committed[rng.int(0, committed.length - 1)];
          const back = toRec(store.get(probe.eventId));
          if (canonical(back) !== canonical(probe)) {
            throw new Violation(`a read after ${plan} returned different data`);
          }
        }
        result.poisonChecks++;
        fs.setFaultInjector(injector);
      }
      const crashOptions = () => ({ seed: rng.int(0, 2 ** 31), tornWrites: rng.chance(0.5) });
      let crashed = false;
      if (ending === "close" || ending === "close-crash") {
        try {
          store.close();
          if (!fired || plan === "drop-sync") {
            // A clean close made everything durable (unless the disk lies).
            mustHave = committed.length + pending.length;
          }
        } catch (e) {
          if (!fired) throw new Violation(`close failed with no fault: ${(e as Error).message}`);
          trace.push(`  close threw: ${(e as Error).message.slice(0, 120)}`);
        }
        if (plan === "kill" && fired) crashed = true; // the process is dead: always a crash
      }
      if (ending !== "close" || crashed) {
        const options = ending === "crash"
          ? { seed: 0, tornWrites: false }
          : ending === "crash-torn"
          ? { seed: rng.int(0, 2 ** 31), tornWrites: true }
          : crashOptions();
        fs = fs.crash(options);
        result.crashes++;
        trace.push(`  crash (torn writes: ${options.tornWrites})`);
        if (DEBUG) {
          for (const f of fs.listFiles()) {
            trace.push(`    ${f}: ${fs.readFile(f).length} B`);
            if (f.endsWith(".fbat")) trace.push(`      ${describeFrames(fs.readFile(f))}`);
          }
        }
        if (plan === "drop-sync" && dropped > 0) lying = true;
      } else {
        fs.setFaultInjector(undefined);
      }
      store = await openAndCheck(
        `epoch ${epoch} (${plan}, ${ending})`,
        plan === "short-read" || plan === "eio-read" ? plan : undefined,
      );
    }
    store?.close();
  } catch (e) {
    result.ok = false;
    result.failure = e instanceof Violation
      ? e.message
      : `unexpected ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`;
  }
  return result;
}

/** Totals over many seeds. */
export interface SimTotals {
  seeds: number;
  failed: number[];
  epochs: number;
  crashes: number;
  faults: Partial<Record<FaultPlan, number>>;
  ackedChecked: number;
  poisonChecks: number;
  compactions: number;
  lying: SimResult["lying"];
}

/** Run seeds `start .. start+count-1`, stopping after `maxFailures` failures. */
export async function runSeeds(
  start: number,
  count: number,
  onResult?: (r: SimResult) => void,
  maxFailures = 5,
): Promise<SimTotals> {
  const totals: SimTotals = {
    seeds: 0,
    failed: [],
    epochs: 0,
    crashes: 0,
    faults: {},
    ackedChecked: 0,
    poisonChecks: 0,
    compactions: 0,
    lying: { recovered: 0, failedClosed: 0, detectedByVerify: 0, lostAcked: 0 },
  };
  for (let seed = start; seed < start + count; seed++) {
    const r = await runSeed(seed);
    totals.seeds++;
    totals.epochs += r.epochs;
    totals.crashes += r.crashes;
    totals.ackedChecked += r.ackedChecked;
    totals.poisonChecks += r.poisonChecks;
    totals.compactions += r.compactions;
    for (const [k, v] of Object.entries(r.faults)) {
      totals.faults[k as FaultPlan] = (totals.faults[k as FaultPlan] ?? 0) + v;
    }
    for (const k of Object.keys(r.lying) as (keyof SimResult["lying"])[]) {
      totals.lying[k] += r.lying[k];
    }
    if (!r.ok) totals.failed.push(seed);
    onResult?.(r);
    if (totals.failed.length >= maxFailures) break;
  }
  return totals;
}

function arg(name: string): number | undefined {
  // The last occurrence wins, so `deno task sim --seeds 50` overrides the task's own --seeds.
  const i = Deno.args.lastIndexOf(`--${name}`);
  if (i >= 0) return Number(Deno.args[i + 1]);
  const eq = Deno.args.findLast((a) => a.startsWith(`--${name}=`));
  return eq ? Number(eq.split("=")[1]) : undefined;
}

function addTotals(into: SimTotals, t: SimTotals): void {
  into.seeds += t.seeds;
  into.failed.push(...t.failed);
  into.epochs += t.epochs;
  into.crashes += t.crashes;
  into.ackedChecked += t.ackedChecked;
  into.poisonChecks += t.poisonChecks;
  into.compactions += t.compactions ?? 0;
  for (const [k, v] of Object.entries(t.faults)) {
    into.faults[k as FaultPlan] = (into.faults[k as FaultPlan] ?? 0) + v;
  }
  for (const k of Object.keys(t.lying) as (keyof SimResult["lying"])[]) {
    into.lying[k] += t.lying[k];
  }
}

/** Split the seeds over `jobs` processes of this script; their output is passed through. */
async function runParallel(start: number, count: number, jobs: number): Promise<SimTotals> {
  const totals = await runSeeds(start, 0);
  const per = Math.ceil(count / jobs);
  const children = [];
  for (let j = 0; j < jobs; j++) {
    const from = start + j * per;
    const n = Math.min(per, start + count - from);
    if (n <= 0) break;
    const self = fileURLToPath(import.meta.url);
    const config = join(dirname(self), "..", "..", "deno.json");
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        config,
        self,
        "--start",
        `${from}`,
        "--seeds",
        `${n}`,
        "--json",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.push((async () => {
      // Pass progress and failures through as they come; the last line is the JSON totals.
      let pending = "";
      let last = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          if (last) console.log(last);
          last = line;
        }
      }
      if (pending) {
        if (last) console.log(last);
        last = pending;
      }
      await proc.status;
      try {
        addTotals(totals, JSON.parse(last) as SimTotals);
      } catch {
        console.log(last);
        totals.failed.push(from);
      }
    })());
  }
  await Promise.all(children);
  return totals;
}

if (import.meta.main) {
  const single = arg("seed");
  const verbose = Deno.args.includes("--verbose");
  const json = Deno.args.includes("--json");
  const start = single ?? arg("start") ?? 1;
  const count = single !== undefined ? 1 : arg("seeds") ?? 10_000;
  const jobs = single !== undefined ? 1 : arg("jobs") ?? 1;
  const started = performance.now();
  if (!json) {
    console.log(
      `sim: seeds ${start}..${start + count - 1}${jobs > 1 ? `, ${jobs} processes` : ""}`,
    );
  }
  let lastReport = started;
  const totals = jobs > 1
    ? await runParallel(start, count, jobs)
    : await runSeeds(start, count, (r) => {
      if (!r.ok) {
        console.log(`\nFAILED seed ${r.seed}: ${r.failure}\ntrace:\n  ${r.trace.join("\n  ")}`);
        console.log(`replay: deno task sim --seed ${r.seed}`);
      } else if (verbose || single !== undefined) {
        console.log(`seed ${r.seed} ok:\n  ${r.trace.join("\n  ")}`);
      }
      const t = performance.now();
      if (t - lastReport > 10_000) {
        lastReport = t;
        console.log(
          `  … ${r.seed - start + 1}/${count} seeds, ${((t - started) / 1000).toFixed(0)} s`,
        );
      }
    });
  if (json) {
    console.log(JSON.stringify(totals));
    Deno.exit(0);
  }
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `\n${totals.failed.length ? "FAILED" : "OK"}: ${
      totals.seeds - totals.failed.length
    }/${totals.seeds} seeds clean, ${totals.epochs} epochs, ${totals.crashes} crashes, ` +
      `${totals.ackedChecked} acknowledged-durable events checked, ${totals.poisonChecks} poisoned-writer checks, ` +
      `${totals.compactions} compactions, ` +
      `faults fired ${JSON.stringify(totals.faults)}, lying disk (dropped fsyncs): ${
        JSON.stringify(totals.lying)
      }, ${s} s`,
  );
  if (totals.failed.length) {
    console.log(`failed seeds: ${totals.failed.join(", ")}`);
    Deno.exit(1);
  }
}
