/**
 * The process the torture parent kills: opens the store in a real directory,
 * runs the seeded workload of one round, and reports on stdout, one JSON
 * object per line, each event only AFTER the store acknowledged it durable
 * (`durable()` resolved, `sync()` or `appendBatch()` returned).
 *
 * Usage: `deno run -A torture_child.ts <dataDir> <seed> <round> <opBudget> <configJSON>`
 *
 * Lines: `{"t":"ready"}`, `{"t":"a",...Ack}`, `{"t":"dedup","ok":bool,"detail":...}`,
 * `{"t":"compacted","eventsDropped":n}` (a compaction finished),
 * `{"t":"closed"}` (budget used up, store closed), `{"t":"error","message":...}`.
 *
 * @module
 */

import { Store, type StoreConfig } from "../../mod.ts";
import { Executor, mixSeed, workload } from "./workload.ts";

const encoder = new TextEncoder();

/** Write one line whole, synchronously, so a kill never loses an acknowledged line. */
function emit(obj: unknown): void {
  const bytes = encoder.encode(JSON.stringify(obj) + "\n");
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

async function main(): Promise<void> {
  const [dataDir, seedArg, roundArg, budgetArg, configArg] = Deno.args;
  const seed = Number(seedArg);
  const round = Number(roundArg);
  const budget = Number(budgetArg);
  const config: StoreConfig = { ...JSON.parse(configArg ?? "{}"), dataDir };
  const store = Store.open(config);
  emit({ t: "ready", report: store.diagnostics().openReport, events: store.diagnostics().events });
  const exec = new Executor(store, {
    attempt() {},
    written() {},
    acked(acks) {
      for (const a of acks) emit({ t: "a", ...a });
    },
    dedup(ok, detail) {
      emit({ t: "dedup", ok, detail });
    },
    compacted(report) {
      emit({ t: "compacted", eventsDropped: report.eventsDropped });
    },
  }, mixSeed(seed, round, 0x7e7));
  let done = 0;
  for (const op of workload(seed, round)) {
    if (done++ >= budget) break;
    await exec.run(op);
  }
  store.close();
  emit({ t: "closed" });
}

try {
  await main();
} catch (e) {
  emit({ t: "error", message: `${(e as Error)?.name}: ${(e as Error)?.message}` });
  Deno.exit(2);
}
