/**
 * `deno task demo`: a tour of the store in well under a minute.
 *
 * On `./.batpak-demo` (cleared first): append 200K events over 1000
 * accounts, close, reopen (showing how the index came back and how long it
 * took), project one account and check the result against a balance kept on
 * the side, run the correctness gates (including a full `verify`) and the M37
 * contention matrix, and print a summary. Exits 1 if anything failed.
 *
 * @module
 */

import { Coordinate, EventKind, runMatrix, Store, type StoredEvent } from "./mod.ts";
import { runCorrectnessGates } from "./src/cli/_correctness.ts";
import { matrixFailures, matrixRows } from "./src/cli/_harness.ts";
import { OPEN_PATH_LABEL } from "./src/cli/inspect.ts";
import {
  formatBytes,
  formatCount,
  formatMs,
  processIo,
  ProgressBar,
  renderTable,
} from "./src/cli/_output.ts";

const DEMO_DIR = "./.batpak-demo";
const EVENTS = 200_000;
const ACCOUNTS = 1000;
/** The store fsyncs every this many appends (the default, stated here to print it). */
const SYNC_EVERY_N_EVENTS = 1000;
/** Progress is redrawn every this many appends. */
const PROGRESS_EVERY_EVENTS = 1000;
const PROJECTED_ACCOUNT = 42;
/** Every this-many-th event of an account is a withdrawal. */
const WITHDRAW_EVERY = 4;

const deposited = EventKind.custom(0x1, 1);
const withdrawn = EventKind.custom(0x1, 2);

const io = processIo();
const say = (text: string) => io.out(text + "\n");
const summary: string[][] = [["step", "result"]];
let failures = 0;
const demoStarted = performance.now();

function amountOf(i: number): number {
  return (i * 7) % 100 + 1;
}

const balance = {
  kinds: [deposited, withdrawn],
  initial: () => 0,
  apply: (sum: number, e: StoredEvent) => {
    const { amount } = e.payload as { amount: number };
    return e.kind === withdrawn ? sum - amount : sum + amount;
  },
};

say(`batpak demo in ${DEMO_DIR}\n`);
try {
  Deno.removeSync(DEMO_DIR, { recursive: true });
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

// 1. Append: single appends, fsynced every 1000 by the store; durable() covers the rest.
//    (appendBatch of 1000 would be as durable, but measured slower here for this workload.)
const accounts = Array.from(
  { length: ACCOUNTS },
  (_, i) => new Coordinate(`account:${i}`, "bank"),
);
let expectedBalance = 0;
let store = Store.open({ dataDir: DEMO_DIR, sync: { everyNEvents: SYNC_EVERY_N_EVENTS } });
const bar = new ProgressBar(io, "append", EVENTS);
let started = performance.now();
for (let i = 0; i < EVENTS; i++) {
  const account = i % ACCOUNTS;
  const nth = Math.floor(i / ACCOUNTS);
  const kind = nth % WITHDRAW_EVERY === WITHDRAW_EVERY - 1 ? withdrawn : deposited;
  if (account === PROJECTED_ACCOUNT) {
    expectedBalance += kind === withdrawn ? -amountOf(i) : amountOf(i);
  }
  store.append(accounts[account], kind, { amount: amountOf(i) });
  if ((i + 1) % PROGRESS_EVERY_EVENTS === 0) bar.update(i + 1);
}
await store.durable(); // every event appended above is now on disk
bar.finish();
const appendMs = performance.now() - started;
const rate = Math.round(EVENTS / (appendMs / 1000));
say(
  `append   ${formatCount(EVENTS)} events over ${formatCount(ACCOUNTS)} accounts in ${
    formatMs(appendMs)
  } (${formatCount(rate)} events/s; fsync every ${SYNC_EVERY_N_EVENTS}, then durable())`,
);
summary.push([
  "append",
  `${formatCount(EVENTS)} events, ${formatMs(appendMs)}, ${formatCount(rate)} events/s, durable`,
]);

// 2. Close: flush, fsync, write the index image.
started = performance.now();
store.close();
const closeMs = performance.now() - started;
let logBytes = 0;
for (const entry of Deno.readDirSync(DEMO_DIR)) {
  if (entry.name.endsWith(".fbat")) logBytes += Deno.statSync(`${DEMO_DIR}/${entry.name}`).size;
}
say(`close    ${formatMs(closeMs)} (log ${formatBytes(logBytes)})`);
summary.push(["close", formatMs(closeMs)]);

// 3. Reopen: the index comes back from the image written by close.
started = performance.now();
store = Store.open(DEMO_DIR);
const openMs = performance.now() - started;
const report = store.diagnostics().openReport;
say(
  `reopen   ${report.path} (${OPEN_PATH_LABEL[report.path]}): ${
    formatCount(report.restoredEntries)
  } restored + ${formatCount(report.tailEntries)} scanned in ${formatMs(openMs)}`,
);
summary.push(["reopen", `${report.path}, ${formatMs(openMs)}`]);

try {
  // 4. Project one account, then again after one more event (incremental).
  const entity = `account:${PROJECTED_ACCOUNT}`;
  started = performance.now();
  const cold = store.project(entity, balance);
  const coldMs = performance.now() - started;
  store.append(accounts[PROJECTED_ACCOUNT], deposited, { amount: 1 });
  expectedBalance += 1;
  started = performance.now();
  const warm = store.project(entity, balance);
  const warmMs = performance.now() - started;
  const projectOk = warm === expectedBalance && cold === expectedBalance - 1;
  if (!projectOk) failures++;
  const events = store.stream(entity).length;
  say(
    `project  ${entity} = ${warm} over ${events} events (expected ${expectedBalance}): cold ${
      formatMs(coldMs)
    }, after one more event ${formatMs(warmMs)}`,
  );
  summary.push([
    "project",
    `${entity} balance ${projectOk ? "correct" : "WRONG"}, cold ${formatMs(coldMs)}, ` +
    `incremental ${formatMs(warmMs)}`,
  ]);

  // 5. Correctness gates, on this store (verify re-reads all of it).
  say("\ncorrectness gates");
  const verifyBar = new ProgressBar(io, "verify", store.diagnostics().events);
  started = performance.now();
  const outcomes = runCorrectnessGates({
    store,
    onVerifyProgress: (checked, total) => verifyBar.update(checked, total),
  });
  verifyBar.finish();
  const gatesMs = performance.now() - started;
  io.out(renderTable(
    outcomes.map((o) => [
      o.denial ? "FAIL" : "pass",
      o.name,
      formatMs(o.elapsedMs),
      o.denial ? String(o.denial) : "",
    ]),
    "  ",
  ));
  const denied = outcomes.filter((o) => o.denial).length;
  failures += denied;
  summary.push([
    "correctness gates",
    `${outcomes.length - denied}/${outcomes.length} passed, ${formatMs(gatesMs)}`,
  ]);
} finally {
  store.close();
}

// 6. The M37 contention matrix: four scenarios, each run twice on a simulated clock and disk.
say("\nM37 contention matrix");
started = performance.now();
const matrix = runMatrix();
const matrixMs = performance.now() - started;
io.out(renderTable(matrixRows(matrix), "  "));
const matrixBad = matrixFailures(matrix);
failures += matrixBad;
const scenarios = matrix.outcomes.length;
summary.push([
  "M37 matrix",
  `${scenarios - matrix.failedScenarios}/${scenarios} scenarios passed, ` +
  `${matrixBad === 0 ? "all within budget" : `${matrixBad} failure(s)`}, ${formatMs(matrixMs)}`,
]);

summary.push(["total", formatMs(performance.now() - demoStarted)]);
say("\nsummary");
io.out(renderTable(summary, "  "));
say(
  failures === 0
    ? `\nall good. Look inside: deno task cli inspect ${DEMO_DIR}`
    : `\n${failures} failure(s)`,
);
Deno.exit(failures === 0 ? 0 : 1);
