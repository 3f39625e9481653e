/**
 * P12 and R10 on PostgreSQL (`deno task bench:postgres`): several OS
 * processes append to one server while a consumer process follows the
 * store; appends/s and the consumer's lag (from the append call to the
 * delivery), plus the same 64-writer workload on the embedded store for
 * scale. Uses `DATABASE_URL`, or starts a throwaway cluster with fsync on
 * (a durable commit per append, like the embedded store's `durable()`).
 *
 * Workloads:
 * - `r10 contention`: 8 processes × 2 writers, CAS + retry on 8 shared entities.
 * - `p12 64 writers`: 8 processes × 8 writers, each on its own entity (no CAS); and the
 *   same 64 writers in 2 processes × 32 (more appends per client share a commit).
 * - `embedded 64 writers`: one process, 64 async writers, `append` + `await durable()`.
 *
 * Each PostgreSQL row also reports CPU time per append: the writer processes'
 * own (user + system), and the server's (every `postgres` process, from
 * /proc). On a machine whose cores the clients and the server share, their
 * sum bounds the rate: 2 cores at 500 µs per append allow 4,000 appends/s.
 *
 * Options: `--events N` per process (default 400), `--json` (one JSON line).
 *
 * @module
 */

import { Coordinate, EventKind, Store } from "../mod.ts";
import { PostgresStore } from "../src/postgres/mod.ts";
import { type PgServer, pgServer, startCluster } from "../tests/fixtures/pg/cluster.ts";
import { type ProcessesReport, runProcesses } from "../tests/fixtures/pg/processes.ts";
import { dropSchemas, freshSchema } from "../tests/fixtures/pg/suite.ts";

const PROCESSES = 8;
const P12_WRITERS_PER_PROCESS = 8;
const R10_WRITERS_PER_PROCESS = 2;
const R10_ENTITIES = 8;
const P12_EVENTS_PER_S = 10_000;
const P12_LAG_MS = 100;

const args = Deno.args;
const flag = (name: string) => args.indexOf(name);
const perProcess = flag("--events") >= 0 ? Number(args[flag("--events") + 1]) : 400;
const json = flag("--json") >= 0;

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Row {
  workload: string;
  events: number;
  eventsPerS: number;
  casRetries: number;
  /** The writer processes' CPU time per append, µs (NaN: not measured). */
  clientCpuUs: number;
  /** The server's CPU time per append, µs: every `postgres` process of the machine (NaN: no /proc). */
  serverCpuUs: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const PROC_TICKS_PER_S = 100;

/**
 * CPU time of every `postgres` process on the machine so far, ms, from
 * /proc (NaN where there is none). Processes of another, idle cluster add
 * next to nothing; a busy one would be counted too.
 */
function postgresCpuMs(): number {
  let ticks = 0;
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      } catch {
        continue; // exited meanwhile
      }
      if (!stat.includes("(postgres)")) continue;
      // utime, stime, cutime, cstime: fields 14-17, counted after the ")" that ends the command
      // name. A backend that exited (its client closed the connection) is in the postmaster's
      // cutime/cstime; a live one in its own utime/stime.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    }
  } catch {
    return NaN;
  }
  return ticks * 1000 / PROC_TICKS_PER_S;
}

function rowOf(workload: string, r: ProcessesReport, serverCpuMs: number): Row {
  const events = r.writers.reduce((n, w) => n + w.appends, 0);
  const lags = r.consumer.lagsMs;
  return {
    workload,
    events,
    eventsPerS: Math.round(events / (r.elapsedMs / 1000)),
    casRetries: r.writers.reduce((n, w) => n + w.casRetries, 0),
    clientCpuUs: r.writers.reduce((n, w) => n + w.cpuMs, 0) * 1000 / events,
    serverCpuUs: serverCpuMs * 1000 / events,
    lagP50Ms: quantile(lags, 0.5),
    lagP99Ms: quantile(lags, 0.99),
    lagMaxMs: Math.max(...lags),
  };
}

async function onPostgres(
  url: string,
  workload: string,
  entities: number,
  writers: number,
  processes = PROCESSES,
) {
  const schema = freshSchema("bench");
  await (await PostgresStore.connect({ url, schema })).close();
  try {
    let serverCpuMs = NaN;
    let serverCpu0 = NaN;
    const report = await runProcesses({
      around: {
        start: () => serverCpu0 = postgresCpuMs(),
        end: () => serverCpuMs = postgresCpuMs() - serverCpu0,
      },
      url,
      schema,
      writers: processes,
      perWriter: perProcess * PROCESSES / processes,
      entities,
      concurrency: writers,
    });
    if (report.consumer.ids.length !== PROCESSES * perProcess) {
      throw new Error(`${workload}: the consumer saw ${report.consumer.ids.length} events`);
    }
    return rowOf(workload, report, serverCpuMs);
  } finally {
    await dropSchemas(url, [schema]);
  }
}

async function onEmbedded(writers: number, total: number): Promise<Row> {
  const dir = await Deno.makeTempDir({ prefix: "batpak-bench-pg-" });
  const store = Store.open(dir);
  const kind = EventKind.custom(0x1, 1);
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: writers }, async (_, lane) => {
    const coord = new Coordinate(`own:${lane}`, "bank");
    for (let i = next++; i < total; i = next++) {
      store.append(coord, kind, { lane, i });
      await store.durable();
    }
  }));
  const elapsedMs = performance.now() - started;
  store.close();
  await Deno.remove(dir, { recursive: true });
  return {
    workload: `embedded ${writers} writers (durable each)`,
    events: total,
    eventsPerS: Math.round(total / (elapsedMs / 1000)),
    casRetries: 0,
    clientCpuUs: NaN,
    serverCpuUs: NaN,
    lagP50Ms: NaN,
    lagP99Ms: NaN,
    lagMaxMs: NaN,
  };
}

let server: PgServer | string;
if (Deno.env.get("DATABASE_URL")) server = await pgServer();
else server = await startCluster({ fsync: true, maxConnections: 300 });
if (typeof server === "string") {
  console.log(`bench:postgres skipped: ${server}`);
  Deno.exit(0);
}
try {
  const rows: Row[] = [];
  rows.push(
    await onPostgres(
      server.url,
      `r10 contention (${PROCESSES}×${R10_WRITERS_PER_PROCESS}, CAS, ${R10_ENTITIES} entities)`,
      R10_ENTITIES,
      R10_WRITERS_PER_PROCESS,
    ),
  );
  const writers = PROCESSES * P12_WRITERS_PER_PROCESS;
  const p12 = await onPostgres(
    server.url,
    `p12 ${writers} writers (${PROCESSES}×${P12_WRITERS_PER_PROCESS}, own entities)`,
    0,
    P12_WRITERS_PER_PROCESS,
  );
  rows.push(p12);
  // The same 64 writers in fewer processes: more appends per client to group-commit together.
  rows.push(
    await onPostgres(
      server.url,
      `p12 ${writers} writers (2×${writers / 2}, own entities)`,
      0,
      writers / 2,
      2,
    ),
  );
  const embedded = await onEmbedded(writers, PROCESSES * perProcess);
  rows.push(embedded);
  if (json) {
    console.log(
      JSON.stringify({ server: server.owned ? "throwaway (fsync on)" : "DATABASE_URL", rows }),
    );
  } else {
    console.log(`server: ${server.owned ? "throwaway cluster, fsync on" : "DATABASE_URL"}`);
    console.log(
      "| workload | events | events/s | CAS retries | lag p50 ms | lag p99 ms | lag max ms | " +
        "client CPU µs/append | server CPU µs/append |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      const ms = (v: number) => Number.isNaN(v) ? "–" : String(Math.round(v));
      console.log(
        `| ${r.workload} | ${r.events} | ${r.eventsPerS} | ${r.casRetries} | ${ms(r.lagP50Ms)} | ${
          ms(r.lagP99Ms)
        } | ${ms(r.lagMaxMs)} | ${ms(r.clientCpuUs)} | ${ms(r.serverCpuUs)} |`,
      );
    }
    console.log(
      `P12: ${p12.eventsPerS} events/s = ${(p12.eventsPerS / P12_EVENTS_PER_S).toFixed(2)}× the ` +
        `${P12_EVENTS_PER_S}/s goal; lag p99 ${
          Math.round(p12.lagP99Ms)
        } ms vs the ${P12_LAG_MS} ms ` +
        `goal; ${(p12.eventsPerS / embedded.eventsPerS).toFixed(2)}× the embedded store's ` +
        `${embedded.eventsPerS}/s in the same run`,
    );
  }
} finally {
  await server.stop();
}
