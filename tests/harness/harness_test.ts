import assert from "node:assert/strict";
import * as rootApi from "../../mod.ts";
import * as testingApi from "../../testing.ts";

/** What the package exports: the root and the `./testing` subpath (the harness runs on MemoryFileSystem). */
const publicApi = { ...rootApi, ...testingApi };
import {
  type Budget,
  BUDGET_VERSION,
  budgetFailures,
  budgetVersionLabel,
  defaultBudget,
  evaluateBudget,
  InvalidArgumentError,
  type Metrics,
  metricsSignature,
  passFailLabel,
  type Report,
  reportSignature,
  runMatrix,
  runScenario,
  Scenario,
  scenarioLabel,
  type ScenarioOutcome,
  SCENARIOS,
  SNAPSHOT_VERSION,
  snapshotReportMarkdown,
  snapshotSignature,
} from "../../mod.ts";
import * as harnessView from "../../src/harness/_public.ts";
import { METRIC_FIELDS, nearestRank } from "../../src/harness/metrics.ts";
import {
  DEFAULT_SEED,
  type DetailedOutcome,
  type Mutation,
  MUTATIONS,
  runScenarioDetailed,
} from "../../src/harness/run.ts";

const FIXTURE = new URL("../fixtures/contention_m37.md", import.meta.url);
const HARNESS_DIR = new URL("../../src/harness/", import.meta.url);

let memoReport: Report | undefined;
/** The default matrix, run once for the tests that only read it. */
function defaultReport(): Report {
  memoReport ??= runMatrix();
  return memoReport;
}

const memoDetailed = new Map<Scenario, DetailedOutcome>();
function detailed(s: Scenario): DetailedOutcome {
  let d = memoDetailed.get(s);
  if (!d) {
    d = runScenarioDetailed(s);
    memoDetailed.set(s, d);
  }
  return d;
}

const brokenOf = (o: DetailedOutcome): string[] =>
  o.invariants.filter((i) => !i.ok).map((i) => i.name);

// --- the matrix -----------------------------------------------------------------

Deno.test("the default matrix passes: every scenario deterministic, invariants met, within budget", () => {
  const report = defaultReport();
  assert.deepEqual(report.outcomes.map((o) => o.scenario), [...SCENARIOS]);
  for (const o of report.outcomes) {
    assert.ok(o.passed, `${o.scenario} failed: ${o.signature}`);
    assert.ok(o.deterministic, o.scenario);
    assert.ok(o.invariantsMet, o.scenario);
    assert.equal(passFailLabel(o), "pass");
    assert.ok(
      o.signature.startsWith(`scenario=${o.scenario};seed=${DEFAULT_SEED};invariants=met;`),
    );
  }
  assert.deepEqual(report.budgetResults.map((b) => [b.scenario, b.passed, b.reason]), [
    ...SCENARIOS.map((s) => [s, true, "within budget"]),
  ]);
  assert.equal(report.failedScenarios, 0);
  assert.equal(report.nondeterministicFailures, 0);
  assert.equal(report.invariantFailures, 0);
  assert.equal(report.failedBudgets, 0);
});

Deno.test("runMatrix passes for seeds 1..5 (deno task harness:seeds runs 100)", () => {
  for (let seed = 1; seed <= 5; seed++) {
    const report = runMatrix({ seed });
    const failures = report.outcomes.filter((o) => !o.passed).map((o) => o.signature);
    assert.deepEqual(failures, [], `seed ${seed}`);
    assert.equal(report.failedBudgets, 0, `seed ${seed}: ${JSON.stringify(report.budgetResults)}`);
  }
});

Deno.test("a run is reproducible from its seed, and the seed matters", () => {
  const a = runScenario(Scenario.OwnershipFencingContention, { seed: 11 });
  const b = runScenario(Scenario.OwnershipFencingContention, { seed: 11 });
  const c = runScenario(Scenario.OwnershipFencingContention, { seed: 12 });
  assert.deepEqual(a, b);
  assert.notEqual(a.signature, c.signature);
  assert.ok(a.signature.includes(";seed=11;"));
  assert.deepEqual(runScenario(Scenario.CheckpointReplayWindows), {
    ...defaultReport().outcomes[3],
  });
});

// --- each scenario's invariants and metrics -------------------------------------

const INVARIANTS: Record<Scenario, string[]> = {
  [Scenario.OwnershipFencingContention]: [
    "one_writer_per_epoch",
    "no_stale_epoch_write",
    "ordered_by_epoch",
    "log_matches_accepted_writes",
    "all_rejection_kinds_seen",
    "single_unexpired_lease",
    "rejections_write_nothing",
  ],
  [Scenario.LeaseRenewalContention]: [
    "single_unexpired_lease",
    "no_renewal_after_expiry",
    "late_renewals_rejected",
    "rejections_write_nothing",
  ],
  [Scenario.TakeoverQueueRetryPressure]: [
    "one_takeover_per_expiry",
    "queue_within_bound",
    "single_unexpired_lease",
    "no_dead_lease_write",
    "rejections_write_nothing",
  ],
  [Scenario.CheckpointReplayWindows]: [
    "checkpoint_survives_kill",
    "replay_within_checkpoint_interval",
    "projection_equals_fresh_fold",
    "no_event_applied_twice",
    "no_event_skipped",
  ],
};

for (const scenario of SCENARIOS) {
  Deno.test(`${scenario}: every invariant is checked and holds`, () => {
    const d = detailed(scenario);
    assert.deepEqual(d.invariants.map((i) => i.name), INVARIANTS[scenario]);
    for (const inv of d.invariants) assert.ok(inv.ok, `${scenario}: ${inv.name} broken`);
    assert.ok(d.passed);
  });
}

Deno.test("ownership fencing: all three rejection kinds occur, takeovers happen", () => {
  const m = detailed(Scenario.OwnershipFencingContention).profile;
  assert.ok(m.staleOwnerRejections > 0);
  assert.ok(m.splitBrainRejections > 0);
  assert.ok(m.invalidTokenRejections > 0);
  assert.ok(
    m.ownershipConflicts >=
      m.staleOwnerRejections + m.splitBrainRejections + m.invalidTokenRejections,
  );
  assert.ok(m.takeoverSuccesses > 0);
  assert.ok(m.leaseQueuePeak >= 1 && m.leaseQueuePeak <= 4);
  assert.equal(m.checkpointWindowEvents, 0);
});

Deno.test("lease renewal: late renewals are rejected as stale_owner, waiters queue", () => {
  const m = detailed(Scenario.LeaseRenewalContention).profile;
  assert.ok(m.staleOwnerRejections > 0, "some renewals must arrive after expiry");
  assert.ok(m.leaseQueuePeak > 1 && m.leaseQueuePeak <= 6);
  assert.ok(m.leaseWindowP95Ms >= 0 && m.leaseWindowP95Ms <= 50);
  assert.ok(m.retryAttempts > 0);
  assert.equal(m.takeoverSuccesses, 0);
});

Deno.test("takeover queue: five takeovers, the queue fills to its bound and no further, retries", () => {
  const m = detailed(Scenario.TakeoverQueueRetryPressure).profile;
  assert.equal(m.takeoverSuccesses, 5);
  assert.equal(m.takeoverQueuePeak, 4);
  assert.ok(m.retryAttempts > 0);
  assert.ok(m.leaseWindowP95Ms > 0);
});

Deno.test("checkpoint replay: the replay window is under one checkpoint interval and costed", () => {
  const m = detailed(Scenario.CheckpointReplayWindows).profile;
  assert.ok(m.checkpointWindowEvents > 0 && m.checkpointWindowEvents < 16);
  assert.equal(m.replayWindowMs, 20 + 2 * m.checkpointWindowEvents);
  assert.equal(m.ownershipConflicts, 0);
});

// --- a broken rule makes the matching scenario fail ------------------------------

const MUTATION_TARGETS: Record<Mutation, [Scenario, string[]]> = {
  accept_stale_fence: [Scenario.OwnershipFencingContention, ["no_stale_epoch_write"]],
  renew_after_expiry: [Scenario.LeaseRenewalContention, ["no_renewal_after_expiry"]],
  takeover_ignores_lease: [Scenario.TakeoverQueueRetryPressure, [
    "one_takeover_per_expiry",
    "single_unexpired_lease",
  ]],
  apply_without_dedupe: [Scenario.CheckpointReplayWindows, [
    "projection_equals_fresh_fold",
    "no_event_applied_twice",
  ]],
};

for (const mutation of MUTATIONS) {
  const [scenario, mustBreak] = MUTATION_TARGETS[mutation];
  Deno.test(`injected broken rule ${mutation} makes ${scenario} fail`, () => {
    const o = runScenarioDetailed(scenario, { mutation });
    assert.equal(o.invariantsMet, false);
    assert.equal(o.passed, false);
    assert.equal(passFailLabel(o), "fail");
    assert.ok(o.deterministic, "a broken rule still fails the same way twice");
    const broken = brokenOf(o);
    for (const name of mustBreak) assert.ok(broken.includes(name), `${name} in ${broken}`);
    assert.ok(o.signature.includes(`invariants=broken:${broken.join("+")};`));
    // A budget check is independent of invariants; the report counts both.
    const report: Report = {
      outcomes: [o],
      budgetResults: evaluateBudget([o], defaultBudget()),
      failedScenarios: 1,
      nondeterministicFailures: 0,
      invariantFailures: 1,
      failedBudgets: 0,
    };
    assert.ok(reportSignature(report).includes("result=fail"));
  });
}

Deno.test("a broken rule for one scenario leaves the others passing", () => {
  const o = runScenarioDetailed(Scenario.LeaseRenewalContention, {
    mutation: "accept_stale_fence",
  });
  assert.ok(o.passed);
  assert.equal(o.signature, detailed(Scenario.LeaseRenewalContention).signature);
});

// --- budgets ------------------------------------------------------------------------

Deno.test("defaultBudget: one budget per scenario, in order, versioned", () => {
  assert.deepEqual(defaultBudget().map((b) => b.scenario), [...SCENARIOS]);
  assert.equal(budgetVersionLabel(), `m37-budget-v${BUDGET_VERSION}`);
  assert.notEqual(defaultBudget(), defaultBudget()); // a fresh copy each time
});

Deno.test("a custom budget fails with every exceeded limit named; a missing budget fails", () => {
  const outcomes = defaultReport().outcomes;
  const zero = (scenario: Scenario): Budget => ({
    scenario,
    maxLeaseWindowP95Ms: 0,
    maxCheckpointWindowEvents: 0,
    maxReplayWindowMs: 0,
    maxQueueDepth: 0,
    maxRetryAttempts: 0,
  });
  const results = evaluateBudget(outcomes, [
    zero(Scenario.TakeoverQueueRetryPressure),
    zero(Scenario.CheckpointReplayWindows),
    ...defaultBudget(), // later duplicates are ignored: the first budget of a scenario applies
  ]);
  const take = outcomes[2].profile;
  assert.equal(
    results[2].reason,
    `lease_window_p95_ms=${take.leaseWindowP95Ms}>0; takeover_queue_peak=4>0; ` +
      `retry_attempts=${take.retryAttempts}>0`,
  );
  const cp = outcomes[3].profile;
  assert.equal(
    results[3].reason,
    `checkpoint_window_events=${cp.checkpointWindowEvents}>0; replay_window_ms=${cp.replayWindowMs}>0`,
  );
  assert.equal(budgetFailures(results), 2);
  const missing = evaluateBudget(outcomes, [defaultBudget()[0]]);
  assert.deepEqual(missing.map((r) => r.passed), [true, false, false, false]);
  assert.equal(missing[1].reason, "no budget for lease_renewal_contention");
  assert.equal(budgetFailures(missing), 3);
});

Deno.test("runMatrix with custom budgets reports failed budgets without failing scenarios", () => {
  const generous = defaultBudget().map((b) => ({ ...b, maxRetryAttempts: 0 }));
  const report = runMatrix({ seed: DEFAULT_SEED, budgets: generous });
  assert.equal(report.failedScenarios, 0);
  assert.equal(report.failedBudgets, 3); // every scenario but checkpoint replay retries
  assert.deepEqual(report.outcomes, defaultReport().outcomes);
});

Deno.test("malformed budgets, scenarios and seeds are rejected with InvalidArgumentError", () => {
  const outcomes = defaultReport().outcomes;
  const good = defaultBudget()[0];
  for (
    const bad of [
      { ...good, maxQueueDepth: -1 },
      { ...good, maxRetryAttempts: 1.5 },
      { ...good, maxReplayWindowMs: "60" },
      { ...good, scenario: "nope" },
      null,
    ]
  ) {
    assert.throws(() => evaluateBudget(outcomes, [bad as Budget]), InvalidArgumentError);
  }
  assert.throws(() => runScenario("nope" as Scenario), InvalidArgumentError);
  assert.throws(() => scenarioLabel("nope" as Scenario), InvalidArgumentError);
  for (const seed of [-1, 1.5, 2 ** 32, Number.NaN, "1"]) {
    assert.throws(
      () => runScenario(Scenario.LeaseRenewalContention, { seed: seed as number }),
      InvalidArgumentError,
    );
    assert.throws(() => runMatrix({ seed: seed as number }), InvalidArgumentError);
  }
});

// --- signatures ------------------------------------------------------------------------

Deno.test("scenario labels are the stable snake-case ids", () => {
  assert.deepEqual(SCENARIOS.map(scenarioLabel), [
    "ownership_fencing_contention",
    "lease_renewal_contention",
    "takeover_queue_retry_pressure",
    "checkpoint_replay_windows",
  ]);
  assert.ok(Object.isFrozen(SCENARIOS));
});

Deno.test("metricsSignature: fixed field order, integers only", () => {
  const m: Metrics = {
    ownershipConflicts: 1,
    splitBrainRejections: 2,
    staleOwnerRejections: 3,
    invalidTokenRejections: 4,
    takeoverSuccesses: 5,
    leaseWindowP95Ms: 6,
    leaseQueuePeak: 7,
    takeoverQueuePeak: 8,
    retryAttempts: 9,
    checkpointWindowEvents: 10,
    replayWindowMs: 11,
  };
  assert.equal(
    metricsSignature(m),
    "ownership_conflicts=1;split_brain_rejections=2;stale_owner_rejections=3;" +
      "invalid_token_rejections=4;takeover_successes=5;lease_window_p95_ms=6;lease_queue_peak=7;" +
      "takeover_queue_peak=8;retry_attempts=9;checkpoint_window_events=10;replay_window_ms=11",
  );
  // Key order of the object does not matter.
  const shuffled = Object.fromEntries(Object.entries(m).reverse()) as unknown as Metrics;
  assert.equal(metricsSignature(shuffled), metricsSignature(m));
  assert.throws(() => metricsSignature({ ...m, leaseWindowP95Ms: 1.5 }), RangeError);
  assert.equal(METRIC_FIELDS.length, Object.keys(m).length);
  for (const o of defaultReport().outcomes) {
    assert.ok(o.signature.endsWith(metricsSignature(o.profile)));
    for (const [key] of METRIC_FIELDS) assert.ok(Number.isSafeInteger(o.profile[key]));
  }
});

Deno.test("nearestRank: the p95 of sorted integers by nearest rank", () => {
  const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => n - i);
  assert.equal(nearestRank([], 95), 0);
  assert.equal(nearestRank([7], 95), 7);
  assert.equal(nearestRank(oneTo(20), 95), 19);
  assert.equal(nearestRank(oneTo(100), 95), 95);
  assert.equal(nearestRank(oneTo(101), 95), 96);
  assert.equal(nearestRank([3, 1, 2], 95), 3);
});

Deno.test("reportSignature covers outcomes, budgets and counts", () => {
  const report = defaultReport();
  const sig = reportSignature(report);
  assert.equal(sig, reportSignature(structuredClone(report)));
  for (const o of report.outcomes) assert.ok(sig.includes(`outcome(${o.signature};result=pass`));
  assert.ok(sig.endsWith(
    "failed_scenarios=0;nondeterministic_failures=0;invariant_failures=0;failed_budgets=0",
  ));
  const failed = { ...report, failedBudgets: 1 };
  assert.notEqual(reportSignature(failed), sig);
});

// --- snapshot ------------------------------------------------------------------------------

/** A line diff (longest common subsequence), `-` fixture, `+` current, two lines of context. */
function lineDiff(expected: string, actual: string): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  const lcs: number[][] = Array.from(
    { length: a.length + 1 },
    () => new Array(b.length + 1).fill(0),
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: [string, string][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push([" ", a[i++]]);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(["-", a[i++]]);
    } else out.push(["+", b[j++]]);
  }
  const keep = out.map((_, k) => out.slice(Math.max(0, k - 2), k + 3).some(([t]) => t !== " "));
  return out.filter((_, k) => keep[k]).map(([t, line]) => `${t} ${line}`).join("\n");
}

function embeddedVersion(markdown: string, field: string): number | undefined {
  const m = new RegExp(`^\\| ${field} +\\| (\\d+) +\\|$`, "m").exec(markdown);
  return m ? Number(m[1]) : undefined;
}

Deno.test("snapshot drift gate: the report matches tests/fixtures/contention_m37.md", () => {
  const current = snapshotReportMarkdown();
  const fixture = Deno.readTextFileSync(FIXTURE);
  const fixtureSnapshot = embeddedVersion(fixture, "snapshot_version");
  const fixtureBudget = embeddedVersion(fixture, "budget_version");
  assert.equal(embeddedVersion(current, "snapshot_version"), SNAPSHOT_VERSION);
  assert.equal(embeddedVersion(current, "budget_version"), BUDGET_VERSION);
  if (fixtureSnapshot !== SNAPSHOT_VERSION || fixtureBudget !== BUDGET_VERSION) {
    // A deliberate bump: the fixture is regenerated with `deno task snapshot`.
    console.warn(
      `contention_m37.md holds snapshot v${fixtureSnapshot} / budget v${fixtureBudget}; ` +
        `the code is at v${SNAPSHOT_VERSION} / v${BUDGET_VERSION}: run deno task snapshot`,
    );
    return;
  }
  if (current !== fixture) {
    assert.fail(
      "the M37 report drifted from tests/fixtures/contention_m37.md without a version bump.\n" +
        "If the change is intended, bump SNAPSHOT_VERSION (scenarios, layout) or BUDGET_VERSION " +
        "(budgets) and run `deno task snapshot`.\n(- fixture, + current)\n" +
        lineDiff(fixture, current),
    );
  }
});

Deno.test("snapshotSignature embeds the versions and matches the markdown", () => {
  const sig = snapshotSignature();
  assert.ok(
    sig.startsWith(
      `m37-snapshot;snapshot_version=${SNAPSHOT_VERSION};budget_version=${BUDGET_VERSION};seed=37|m37|`,
    ),
  );
  assert.ok(sig.endsWith(reportSignature(defaultReport())));
  assert.ok(snapshotReportMarkdown().includes("```text\n" + sig + "\n```"));
});

Deno.test("lineDiff shows what changed", () => {
  assert.equal(lineDiff("a\nb\nc", "a\nB\nc"), "  a\n- b\n+ B\n  c");
  assert.equal(lineDiff("a\nb", "a\nb\nc"), "  a\n  b\n+ c");
});

// --- the harness stays on the public API, with no clock or randomness -----------------------

function harnessSources(dir: URL = HARNESS_DIR): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) out.push(...harnessSources(url));
    else if (entry.name.endsWith(".ts")) out.push([url.pathname, Deno.readTextFileSync(url)]);
  }
  return out;
}

Deno.test("the harness reaches the store only through names mod.ts exports", () => {
  for (const [name, value] of Object.entries(harnessView)) {
    assert.equal(
      (publicApi as Record<string, unknown>)[name],
      value,
      `src/harness/_public.ts exports ${name}, which neither mod.ts nor testing.ts does`,
    );
  }
  for (const [path, text] of harnessSources()) {
    if (path.endsWith("/_public.ts")) continue;
    for (const [, spec] of text.matchAll(/from "([^"]+)"/g)) {
      const outside = new URL(spec, `file://${path}`).pathname;
      assert.ok(
        outside.includes("/src/harness/"),
        `${path} imports ${spec}: the harness must go through _public.ts`,
      );
    }
  }
});

Deno.test("the harness has no wall clock and no Math.random", () => {
  for (const [path, text] of harnessSources()) {
    if (path.endsWith("_cli.ts")) continue; // scripts, not simulation
    for (const banned of ["Math.random", "Date.now", "new Date", "performance.now", "crypto."]) {
      assert.ok(!text.includes(banned), `${path} uses ${banned}`);
    }
  }
});

Deno.test("ScenarioOutcome carries exactly the contract's fields", () => {
  const o: ScenarioOutcome = runScenario(Scenario.TakeoverQueueRetryPressure);
  assert.deepEqual(Object.keys(o).sort(), [
    "deterministic",
    "invariantsMet",
    "passed",
    "profile",
    "scenario",
    "signature",
  ]);
});
