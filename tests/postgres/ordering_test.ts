/**
 * The global order never skips: writers whose transactions are held open
 * commit out of position order (a smaller position commits after larger
 * ones), and a live subscription and a paged reader, running all along,
 * must each see every event exactly once, in the order of a later full
 * read. The hazard is shown too: while the slow transactions are open, the
 * table already holds committed events at larger positions — a reader that
 * took them and moved its cursor past them would skip the slow ones forever.
 */

import { assert, assertEquals } from "../conformance/assert.ts";
import { Coordinate, EventKind, Region, type StoredEvent } from "../../mod.ts";
import { PostgresStore } from "../../src/postgres/mod.ts";
import { adminClient, dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/ordering_test.ts");
const K = EventKind.custom(0x1, 1);
const SLOW_WRITERS = 4;
const FAST_BEFORE = 12;
const FAST_BETWEEN = 3;
const TIMEOUT_MS = 20_000;

async function until(what: string, cond: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

if (server) {
  Deno.test("postgres ordering: transactions committing out of position order are never skipped", async () => {
    const schema = freshSchema("order");
    const app = `ordering-${schema}`;
    const writer = await PostgresStore.connect({
      url: server.url,
      schema,
      poolSize: SLOW_WRITERS + 6,
      // Each held writer occupies a committer: leave room for the fast ones.
      committers: SLOW_WRITERS + 2,
      applicationName: app,
    });
    const consumer = await PostgresStore.connect({ url: server.url, schema, pollIntervalMs: 50 });
    const admin = adminClient(server.url, SLOW_WRITERS + 2);
    const holds: Awaited<ReturnType<typeof admin.reserve>>[] = [];
    const stop = new AbortController();
    let following: Promise<void> = Promise.resolve();
    let paging: Promise<void> = Promise.resolve();
    try {
      const fences = [];
      for (let i = 0; i < SLOW_WRITERS; i++) {
        fences.push(await writer.ownership(`slow-${i}`).claim("writer", 600_000));
      }
      // Consumers, running all along: a live subscription and a paged reader.
      const subscribed: StoredEvent[] = [];
      following = (async () => {
        for await (const e of consumer.subscribe(Region.all(), { signal: stop.signal })) {
          subscribed.push(e);
        }
      })();
      const paged: StoredEvent[] = [];
      paging = (async () => {
        while (!stop.signal.aborted) {
          const after = paged.at(-1)?.globalSequence ?? 0;
          const page = await consumer.read(Region.all(), { after, limit: 3 });
          paged.push(...page);
          if (page.length === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();

      // Hold each slow scope's lease row: a fenced append takes its transaction id, then
      // waits for the row.
      for (let i = 0; i < SLOW_WRITERS; i++) {
        const conn = await admin.reserve();
        await conn`BEGIN`;
        await conn.unsafe(`SELECT 1 FROM "${schema}".leases WHERE scope = $1 FOR UPDATE`, [
          `slow-${i}`,
        ]);
        holds.push(conn);
      }
      const resolved: { g: number; entity: string }[] = [];
      const slow = fences.map((fence, i) =>
        writer.append(new Coordinate(`slow:${i}`, `slow-${i}`), K, { slow: i }, { fence })
          .then((r) => (resolved.push({ g: r.globalSequence, entity: `slow:${i}` }), r))
      );
      await until("the slow writers to block", async () => {
        const [row] = await admin`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE application_name = ${app} AND wait_event_type = 'Lock'`;
        return row.n === SLOW_WRITERS;
      });
      const fast = async (n: number, tag: string) => {
        for (let j = 0; j < n; j++) {
          const r = await writer.append(new Coordinate(`fast:${tag}:${j}`, "fast"), K, { j });
          resolved.push({ g: r.globalSequence, entity: `fast:${tag}:${j}` });
        }
      };
      await fast(FAST_BEFORE, "before");

      // The hazard: committed rows exist at positions after the open transactions' ones...
      const [naive] = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".events`);
      assertEquals(naive.n, FAST_BEFORE, "the fast events are committed");
      // ...but no consumer may see them yet: an older transaction is still open.
      assertEquals(await consumer.read(Region.all(), { after: 0, limit: 100 }), []);
      assertEquals(
        subscribed.length + paged.length,
        0,
        "nothing delivered past an open transaction",
      );

      // Release the slow writers newest first, with more fast commits in between.
      for (let i = SLOW_WRITERS - 1; i >= 0; i--) {
        await holds[i]`COMMIT`;
        await slow[i];
        await fast(FAST_BETWEEN, `between-${i}`);
      }
      const total = FAST_BEFORE + SLOW_WRITERS + SLOW_WRITERS * FAST_BETWEEN;
      await until(
        "the consumers to catch up",
        () => subscribed.length >= total && paged.length >= total,
      );
      stop.abort();
      await Promise.all([following, paging]);

      const full = await consumer.read(Region.all(), { after: 0, limit: 1000 });
      assertEquals(full.length, total);
      const ids = (events: StoredEvent[]) => events.map((e) => e.eventId);
      assertEquals(ids(subscribed), ids(full), "subscription: every event once, in order");
      assertEquals(ids(paged), ids(full), "paged reads: every event once, in order");
      for (let i = 1; i < full.length; i++) {
        assert(full[i].globalSequence > full[i - 1].globalSequence, "strictly increasing");
      }
      // The scenario really committed out of order: some slow event has a smaller position
      // than a fast event that was acknowledged before it.
      const ackOrder = resolved.map((r) => r.g);
      const inversions = ackOrder.filter((g, i) =>
        ackOrder.slice(0, i).some((earlier) => earlier > g)
      );
      assert(inversions.length > 0, `out-of-order commits expected: ${ackOrder.join(" ")}`);
      assert(full.slice(0, SLOW_WRITERS).every((e) => e.entity.startsWith("slow:")));
    } finally {
      stop.abort();
      await Promise.allSettled([following, paging]);
      for (const h of holds) {
        await h`ROLLBACK`.catch(() => {});
        h.release();
      }
      await admin.end({ timeout: 5 });
      await writer.close();
      await consumer.close();
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres ordering: an open transaction elsewhere on the server delays consumers, never reorders them", async () => {
    const schema = freshSchema("lag");
    const writer = await PostgresStore.connect({ url: server.url, schema, visibilityWaitMs: 0 });
    const consumer = await PostgresStore.connect({ url: server.url, schema });
    const admin = adminClient(server.url);
    const conn = await admin.reserve();
    try {
      const first = await writer.append(new Coordinate("a", "s"), K, 1);
      await until(
        "the first event",
        async () => (await consumer.read(Region.all(), { after: 0, limit: 10 })).length === 1,
      );
      await conn`BEGIN`;
      await conn`SELECT pg_current_xact_id()`; // a transaction id, held: any writer anywhere
      await writer.append(new Coordinate("a", "s"), K, 2);
      await writer.append(new Coordinate("b", "s"), K, 3);
      await new Promise((r) => setTimeout(r, 50));
      assertEquals(
        await consumer.read(Region.all(), { after: first.globalSequence, limit: 10 }),
        [],
        "held back by the open transaction",
      );
      await conn`COMMIT`;
      const rest = await consumer.read(Region.all(), { after: first.globalSequence, limit: 10 });
      assertEquals(rest.map((e) => e.payload), [2, 3]);
    } finally {
      await conn`ROLLBACK`.catch(() => {});
      conn.release();
      await admin.end({ timeout: 5 });
      await writer.close();
      await consumer.close();
      await dropSchemas(server.url, [schema]);
    }
  });
}
