/**
 * Faults: a backend terminated in the middle of an append, a statement
 * timeout, an unreachable server, and a server restarted under load. Each
 * surfaces as a typed `StoreError` naming the statement (never a driver
 * error, never the password), writes nothing partial, and the client
 * carries on with the next call.
 */

import { Coordinate, EventKind, IoError, Region, type StoredEvent, StoreError } from "../../mod.ts";
import { PostgresStore } from "../../src/postgres/mod.ts";
import { writeRacesStopped } from "../../src/postgres/_driver.ts";
import { assert, assertEquals, assertFails } from "../conformance/assert.ts";
import { startCluster } from "../fixtures/pg/cluster.ts";
import { adminClient, dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/faults_test.ts");
const K = EventKind.custom(0x1, 1);

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A batch whose last item waits on the held lease row of `scope`. */
function blockedBatch(
  store: PostgresStore,
  fence: { owner: string; epoch: number; token: string },
) {
  return store.appendBatch([
    { coord: new Coordinate("fault:a", "plain"), kind: K, payload: 1 },
    { coord: new Coordinate("fault:b", "plain"), kind: K, payload: 2 },
    { coord: new Coordinate("fault:c", "held"), kind: K, payload: 3, options: { fence } },
  ]);
}

if (server) {
  Deno.test("postgres faults: a backend terminated mid-append is a typed error, no partial batch, reconnect", async () => {
    const schema = freshSchema("kill");
    const app = `kill-${schema}`;
    const store = await PostgresStore.connect({ url: server.url, schema, applicationName: app });
    const admin = adminClient(server.url, 3);
    const hold = await admin.reserve();
    try {
      const fence = await store.ownership("held").claim("w", 600_000);
      await hold`BEGIN`;
      await hold.unsafe(`SELECT 1 FROM "${schema}".leases WHERE scope = 'held' FOR UPDATE`);
      const pending = blockedBatch(store, fence);
      pending.catch(() => {});
      let victim = 0;
      await until("the append to block", async () => {
        const rows = await admin`SELECT pid FROM pg_stat_activity
          WHERE application_name = ${app} AND wait_event_type = 'Lock'`;
        victim = rows[0]?.pid ?? 0;
        return rows.length === 1;
      });
      await admin`SELECT pg_terminate_backend(${victim})`;
      const e = await assertFails(() => pending, IoError, "terminated backend");
      assert(e instanceof StoreError, "a StoreError");
      assert(/append \(/.test(e.message), `names the statement: ${e.message}`);
      assert(/nothing was written/.test(e.message), `says nothing was written: ${e.message}`);
      await hold`ROLLBACK`;
      for (const entity of ["fault:a", "fault:b", "fault:c"]) {
        assertEquals(await store.lastSequence(entity), 0, `${entity}: no partial batch`);
      }
      // The pool reconnects: the same store writes the whole batch now.
      const receipts = await blockedBatch(store, fence);
      assertEquals(receipts.map((r) => r.sequence), [1, 1, 1]);
      assertEquals((await store.verify()).ok, true);
    } finally {
      await hold`ROLLBACK`.catch(() => {});
      hold.release();
      await admin.end({ timeout: 5 });
      await store.close();
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres faults: a statement timeout is a typed error naming the statement", async () => {
    const schema = freshSchema("timeout");
    const store = await PostgresStore.connect({ url: server.url, schema, statementTimeoutMs: 300 });
    const admin = adminClient(server.url, 2);
    const hold = await admin.reserve();
    try {
      const fence = await store.ownership("held").claim("w", 600_000);
      await hold`BEGIN`;
      await hold.unsafe(`SELECT 1 FROM "${schema}".leases WHERE scope = 'held' FOR UPDATE`);
      const e = await assertFails(() => blockedBatch(store, fence), IoError, "timed out append");
      assert(/statement timeout|57014/.test(e.message), e.message);
      assert(
        /append \(begin, lock entities, read keys, stream heads and fences\)/.test(e.message),
        e.message,
      );
      await hold`ROLLBACK`;
      assertEquals(await store.lastSequence("fault:a"), 0);
      assertEquals((await blockedBatch(store, fence)).length, 3);
    } finally {
      await hold`ROLLBACK`.catch(() => {});
      hold.release();
      await admin.end({ timeout: 5 });
      await store.close();
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres faults: an unreachable server is an IoError that hides the password", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const e = await assertFails(
      () =>
        PostgresStore.connect({
          url: `postgres://app:s3cret-pw@127.0.0.1:${port}/db`,
          connectTimeoutMs: 2000,
        }),
      IoError,
    );
    assert(!e.message.includes("s3cret-pw"), e.message);
    assert(e.message.includes(`127.0.0.1:${port}`), e.message);
    assert(/connect/.test(e.message), e.message);
  });

  Deno.test({
    name:
      "postgres faults: pg_ctl restart under load — clients recover, nothing acknowledged is lost",
    // Restarting a shared DATABASE_URL server would disturb other suites: this one starts its own.
    async fn(t) {
      const own = await startCluster();
      if (typeof own === "string") {
        console.log(`restart test skipped: ${own}`);
        return;
      }
      const WRITERS = 4;
      const EACH = 40;
      const schema = "restart";
      const store = await PostgresStore.connect({ url: own.url, schema, pollIntervalMs: 50 });
      const consumer = await PostgresStore.connect({ url: own.url, schema, pollIntervalMs: 50 });
      const acknowledged = new Map<string, string>(); // key → event id
      let typedErrors = 0;
      let untyped = 0;
      const seen: StoredEvent[] = [];
      const stop = new AbortController();
      try {
        const following = (async () => {
          for await (const e of consumer.subscribe(Region.all(), { signal: stop.signal })) {
            seen.push(e);
          }
        })();
        const writer = async (w: number) => {
          for (let i = 0; i < EACH; i++) {
            const key = `w${w}-${i}`;
            for (let attempt = 0;; attempt++) {
              try {
                const r = await store.append(new Coordinate(`acct:${w}`, "bank"), K, { w, i }, {
                  idempotencyKey: key,
                });
                acknowledged.set(key, r.eventId);
                break;
              } catch (e) {
                if (e instanceof StoreError) typedErrors++;
                else untyped++;
                if (attempt > 200) throw e;
                await new Promise((r) => setTimeout(r, 20));
              }
            }
          }
        };
        const writing = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
        await until(
          "some appends before the restart",
          () => Promise.resolve(acknowledged.size >= 20),
        );
        await t.step("restart the server", () => own.restart());
        await writing;
        assertEquals(untyped, 0, "every error was a StoreError");
        assertEquals(acknowledged.size, WRITERS * EACH);
        for (let w = 0; w < WRITERS; w++) {
          const events = await store.readStream(`acct:${w}`);
          assertEquals(
            events.map((e) => e.sequence),
            Array.from({ length: EACH }, (_, i) => i + 1),
          );
          assertEquals(
            events.map((e) => (e.payload as { i: number }).i),
            Array.from({ length: EACH }, (_, i) => i),
            "each key exactly once, in order",
          );
          for (const e of events) {
            assertEquals(acknowledged.get(`w${w}-${(e.payload as { i: number }).i}`), e.eventId);
          }
        }
        await until(
          "the consumer to catch up",
          () => Promise.resolve(seen.length >= WRITERS * EACH),
        );
        stop.abort();
        await following;
        const full = await consumer.read(Region.all(), { after: 0, limit: 10_000 });
        assertEquals(
          seen.map((e) => e.eventId),
          full.map((e) => e.eventId),
          "consumer: once, in order",
        );
        assertEquals((await store.verify()).ok, true);
        console.log(
          `restart: ${typedErrors} typed errors retried, ${acknowledged.size} acknowledged, ` +
            `${writeRacesStopped()} postgres.js write races stopped (see src/postgres/_driver.ts)`,
        );
      } finally {
        stop.abort();
        await store.close();
        await consumer.close();
        await own.stop();
      }
    },
  });
}
