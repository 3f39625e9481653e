/**
 * The M37 matrix on PostgreSQL (`deno task harness:postgres`): the same
 * report signature as the embedded store's for the same seed, a broken
 * rule fails the same way, and the backend's own pieces — `writeMark`,
 * kill and reopen — do what the harness relies on.
 */

import assert from "node:assert/strict";
import { Coordinate, EventKind, OwnershipError, Region, Scenario } from "../../mod.ts";
import { runScenarioDetailed, runScenarioOn } from "../../src/harness/run.ts";
import { postgresBackend } from "../fixtures/pg/harness_backend.ts";
import { serverOrSkip } from "../fixtures/pg/suite.ts";
import { compareOnPostgres } from "./harness_cli.ts";

const server = await serverOrSkip("tests/postgres/harness_test.ts");
const FIXTURE = new URL("../fixtures/contention_m37.md", import.meta.url);
const K = EventKind.custom(0x3, 0x037);

if (server) {
  Deno.test("harness:postgres: the default matrix on PostgreSQL has the embedded store's signature", async () => {
    const c = await compareOnPostgres(server.url);
    assert.equal(c.postgres.failedScenarios, 0, c.signature);
    assert.equal(c.postgres.failedBudgets, 0, c.signature);
    assert.equal(c.signature, c.embeddedSignature);
    // What the task prints is the committed snapshot, byte for byte.
    assert.equal(c.text, c.embeddedText);
    assert.equal(c.text, Deno.readTextFileSync(FIXTURE));
  });

  Deno.test("harness:postgres: a broken rule fails on PostgreSQL exactly as on the embedded store", async () => {
    const backend = postgresBackend(server.url);
    try {
      const options = { seed: 5, mutation: "accept_stale_fence" as const };
      const pg = await runScenarioOn(backend, Scenario.OwnershipFencingContention, options);
      const embedded = runScenarioDetailed(Scenario.OwnershipFencingContention, options);
      assert.equal(pg.passed, false);
      assert.ok(pg.invariants.some((i) => i.name === "no_stale_epoch_write" && !i.ok));
      assert.deepEqual(pg, embedded);
    } finally {
      await backend.end();
    }
  });

  Deno.test("harness:postgres backend: writeMark moves with events, leases and cursors, not with a rejection", async () => {
    const backend = postgresBackend(server.url);
    let now = 1_700_000_000_000;
    const run = await backend.open("/m37/test", () => now);
    try {
      const store = run.store;
      const own = store.ownership("m37-mark");
      const marks = [await run.writeMark()];
      const mark = async () => {
        marks.push(await run.writeMark());
        return marks[marks.length - 1];
      };
      const fence = await own.claim("a", 100);
      assert.notEqual(await mark(), marks[0], "a claim writes");
      await store.append(new Coordinate("m37-mark:e", "m37-mark"), K, { n: 1 }, { fence });
      assert.notEqual(await mark(), marks[1], "an append writes");
      await store.saveCursor(
        "c",
        (await store.read(Region.all(), { after: 0, limit: 1 }))[0]
          .globalSequence,
      );
      assert.notEqual(await mark(), marks[2], "a saved cursor writes");
      await assert.rejects(async () => await own.claim("b", 100), OwnershipError);
      assert.equal(await mark(), marks[3], "a rejected claim writes nothing");
      now += 1_000;
      await assert.rejects(
        async () =>
          await store.append(new Coordinate("m37-mark:e", "m37-mark"), K, { n: 2 }, { fence }),
        OwnershipError,
      );
      assert.equal(await mark(), marks[3], "a rejected fenced append writes nothing");
      await assert.rejects(async () => await own.renew(fence, 100), OwnershipError);
      assert.equal(await mark(), marks[3], "a rejected renewal writes nothing");
    } finally {
      await run.close();
      await backend.end();
    }
  });

  Deno.test("harness:postgres backend: a kill keeps what was committed, the new store reads all of it", async () => {
    const backend = postgresBackend(server.url);
    const run = await backend.open("/m37/test", () => 1_700_000_000_000);
    try {
      const coord = new Coordinate("m37-kill:e", "m37-kill");
      for (let n = 0; n < 3; n++) await run.store.append(coord, K, { n });
      await run.commit();
      const before = run.store;
      await run.crashAndReopen();
      assert.notEqual(run.store, before);
      const events = await run.store.read(Region.scope("m37-kill"), { after: 0, limit: 10 });
      assert.deepEqual(events.map((e) => (e.payload as { n: number }).n), [0, 1, 2]);
      assert.equal(await run.store.lastSequence("m37-kill:e"), 3);
    } finally {
      await run.close();
      await backend.end();
    }
  });
}
