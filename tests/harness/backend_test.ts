/**
 * The harness's backend port: the async runner gives exactly what the
 * synchronous one gives, the scenarios do not depend on what a kill loses
 * beyond what was committed (what lets PostgreSQL, which loses nothing,
 * give the embedded store's signature), and the "rejected calls wrote
 * nothing" check goes through the backend's `writeMark`.
 */

import assert from "node:assert/strict";
import { type EventStore, Scenario, SCENARIOS, Store } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { call, runAsync, runSync } from "../../src/harness/_sim.ts";
import {
  type BackendRun,
  embeddedBackend,
  type HarnessBackend,
} from "../../src/harness/backend.ts";
import { reportSignature, runMatrix, runMatrixOn } from "../../src/harness/matrix.ts";
import { type Mutation, runScenarioDetailed, runScenarioOn } from "../../src/harness/run.ts";

/** The embedded store, but a kill keeps everything (a clean close and reopen), as PostgreSQL does. */
function losslessBackend(): HarnessBackend {
  return {
    name: "embedded-lossless",
    open(name, clock): BackendRun {
      const fs = new MemoryFileSystem();
      const open = () => Store.open({ dataDir: name, fs, clock });
      let store = open();
      return {
        get store(): EventStore {
          return store;
        },
        commit: () => store.sync(),
        writeMark: () => String(store.diagnostics().events),
        crashAndReopen: () => {
          store.close();
          store = open();
        },
        close: () => store.close(),
      };
    },
  };
}

/** The embedded backend with every call answered through a promise, like a network backend. */
function promisingBackend(inner: HarnessBackend = embeddedBackend()): HarnessBackend {
  return {
    name: "embedded-async",
    async open(name, clock): Promise<BackendRun> {
      const run = await inner.open(name, clock);
      return {
        get store(): EventStore {
          return run.store;
        },
        commit: async () => await run.commit(),
        writeMark: async () => await run.writeMark(),
        crashAndReopen: async () => await run.crashAndReopen(),
        close: async () => await run.close(),
      };
    },
  };
}

Deno.test("runScenarioOn: the async runner gives what the synchronous runner gives, scenario by scenario", async () => {
  for (const scenario of SCENARIOS) {
    for (const seed of [37, 4]) {
      const sync = runScenarioDetailed(scenario, { seed });
      assert.deepEqual(await runScenarioOn(embeddedBackend(), scenario, { seed }), sync);
      assert.deepEqual(await runScenarioOn(promisingBackend(), scenario, { seed }), sync);
    }
  }
});

Deno.test("runScenarioOn: a broken rule breaks the same invariants as on the synchronous runner", async () => {
  const mutation: Mutation = "accept_stale_fence";
  const sync = runScenarioDetailed(Scenario.OwnershipFencingContention, { mutation });
  const async = await runScenarioOn(promisingBackend(), Scenario.OwnershipFencingContention, {
    mutation,
  });
  assert.equal(async.passed, false);
  assert.deepEqual(async, sync);
});

Deno.test("runMatrixOn: the same report signature as runMatrix", async () => {
  const report = await runMatrixOn(promisingBackend(), { seed: 9 });
  assert.equal(reportSignature(report), reportSignature(runMatrix({ seed: 9 })));
});

Deno.test("runScenarioOn rejects an unknown scenario or a bad seed with InvalidArgumentError", async () => {
  await assert.rejects(
    () => runScenarioOn(embeddedBackend(), "nope" as Scenario),
    { name: "InvalidArgumentError" },
  );
  await assert.rejects(
    () => runScenarioOn(embeddedBackend(), Scenario.LeaseRenewalContention, { seed: -1 }),
    { name: "InvalidArgumentError" },
  );
  await assert.rejects(() => runMatrixOn(embeddedBackend(), { seed: 1.5 }), {
    name: "InvalidArgumentError",
  });
});

Deno.test("a kill that keeps uncommitted writes changes no outcome: scenarios depend only on commits", async () => {
  // The embedded store loses what was not synced; PostgreSQL loses nothing
  // once an append resolved. Equal outcomes here are what make the two
  // backends' signatures equal.
  for (let seed = 0; seed < 12; seed++) {
    const lossy = runScenarioDetailed(Scenario.CheckpointReplayWindows, { seed });
    const lossless = await runScenarioOn(losslessBackend(), Scenario.CheckpointReplayWindows, {
      seed,
    });
    assert.ok(lossy.passed && lossless.passed, `seed ${seed}`);
    assert.equal(lossless.signature, lossy.signature, `seed ${seed}`);
  }
});

Deno.test("rejections_write_nothing is judged by the backend's writeMark", async () => {
  const inner = embeddedBackend();
  let marks = 0;
  const moving: HarnessBackend = {
    name: "moving-mark",
    async open(name, clock) {
      const run = await inner.open(name, clock);
      return {
        get store(): EventStore {
          return run.store;
        },
        commit: () => run.commit(),
        writeMark: () => String(marks++), // as if every call wrote something
        crashAndReopen: () => run.crashAndReopen(),
        close: () => run.close(),
      };
    },
  };
  const o = await runScenarioOn(moving, Scenario.LeaseRenewalContention);
  assert.deepEqual(o.invariants.filter((i) => !i.ok).map((i) => i.name), [
    "rejections_write_nothing",
  ]);
  assert.equal(runScenarioDetailed(Scenario.LeaseRenewalContention).passed, true);
});

Deno.test("runSync refuses a backend that answers with promises, and the run's store is closed", () => {
  let closed = 0;
  const backend: HarnessBackend = {
    name: "async-only",
    open: (name, clock) => {
      const run = embeddedBackend().open(name, clock) as BackendRun;
      return {
        get store(): EventStore {
          return run.store;
        },
        commit: () => run.commit(),
        writeMark: () => Promise.resolve(run.writeMark() as string),
        crashAndReopen: () => run.crashAndReopen(),
        close: () => {
          closed++;
          return run.close();
        },
      };
    },
  };
  // Through the same scenario runner as runScenarioDetailed, but on this backend, synchronously.
  const sim = (function* () {
    const run = yield* call(() => backend.open("/m37/x", () => 0));
    try {
      yield* call(() => run.writeMark());
    } finally {
      yield* call(() => run.close());
    }
  })();
  assert.throws(() => runSync(sim), TypeError);
  assert.equal(closed, 1);
});

Deno.test("runSync and runAsync: a failed call throws into the scenario, which may catch it", async () => {
  const scenario = function* () {
    try {
      yield* call(() => {
        throw new RangeError("boom");
      });
      return "not reached";
    } catch (e) {
      return (e as Error).message + ": " + (yield* call(() => "next call"));
    }
  };
  assert.equal(runSync(scenario()), "boom: next call");
  assert.equal(await runAsync(scenario()), "boom: next call");
  const rejecting = function* () {
    try {
      yield* call(() => Promise.reject(new RangeError("late boom")));
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.equal(await runAsync(rejecting()), "late boom");
});
