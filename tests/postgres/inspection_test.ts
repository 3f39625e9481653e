/**
 * What tools that only look need from a PostgreSQL store (the CLI's
 * `inspect`, `verify`, `tail`, `dump`): `connect({ create: false })` that
 * changes nothing on the server, `diagnostics()`, and `readLast()` whose
 * last position a subscription can follow without a gap.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  EventKind,
  InvalidArgumentError,
  NotFoundError,
  Region,
  type StoredEvent,
} from "../../mod.ts";
import { PostgresStore, SCHEMA_VERSION } from "../../src/postgres/mod.ts";
import { adminClient, dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/inspection_test.ts");
const K = EventKind.custom(0x1, 1);

if (server) {
  Deno.test("postgres inspection: create: false refuses a schema without a store and creates nothing", async () => {
    const schema = freshSchema("nostore");
    const admin = adminClient(server.url, 1);
    try {
      await assert.rejects(
        PostgresStore.connect({ url: server.url, schema, create: false }),
        (e) => e instanceof NotFoundError && e.message.includes(`schema "${schema}"`),
      );
      const rows = await admin`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`;
      assert.equal(rows.length, 0, "the schema was not created");
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        PostgresStore.connect({ url: server.url, schema, create: "no" as any }),
        (e) => e instanceof InvalidArgumentError && e.message.includes("create must be a boolean"),
      );
    } finally {
      await admin.end({ timeout: 5 });
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres inspection: create: false reads a store as it is, and refuses another version", async () => {
    const schema = freshSchema("exists");
    const admin = adminClient(server.url, 1);
    try {
      const writer = await PostgresStore.connect({ url: server.url, schema });
      const r = await writer.append(new Coordinate("a:1", "s"), K, { n: 1 });
      await writer.close();
      const reader = await PostgresStore.connect({ url: server.url, schema, create: false });
      try {
        assert.deepEqual((await reader.get(r.eventId)).payload, { n: 1 });
      } finally {
        await reader.close();
      }
      await admin.unsafe(
        `INSERT INTO "${schema}".schema_migrations (version, name) VALUES (${
          SCHEMA_VERSION + 1
        }, 'from the future')`,
      );
      await assert.rejects(
        PostgresStore.connect({ url: server.url, schema, create: false }),
        (e) =>
          e instanceof InvalidArgumentError &&
          e.message.includes(`at version ${SCHEMA_VERSION + 1}`),
      );
    } finally {
      await admin.end({ timeout: 5 });
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres inspection: diagnostics counts events, entities, cursors, leases", async () => {
    const schema = freshSchema("diag");
    const store = await PostgresStore.connect({ url: server.url, schema });
    try {
      const empty = await store.diagnostics();
      assert.deepEqual(
        { ...empty, tableBytes: 0 },
        {
          server: empty.server,
          schema,
          schemaVersion: SCHEMA_VERSION,
          clientSchemaVersion: SCHEMA_VERSION,
          events: 0,
          entities: 0,
          cursors: 0,
          leases: 0,
          lastGlobalSequence: 0,
          firstTimestampMs: undefined,
          lastTimestampMs: undefined,
          tableBytes: 0,
        },
      );
      assert.ok(empty.server.endsWith(`?schema=${schema}`), empty.server);
      assert.ok(empty.tableBytes > 0, "the tables take space even when empty");
      const receipts = [];
      for (let i = 0; i < 7; i++) {
        receipts.push(await store.append(new Coordinate(`acct:${i % 3}`, "bank"), K, { i }));
      }
      await store.saveCursor("projector", receipts[3].globalSequence);
      await store.ownership("bank").claim("me", 60_000);
      const d = await store.diagnostics();
      assert.equal(d.events, 7);
      assert.equal(d.entities, 3);
      assert.equal(d.cursors, 1);
      assert.equal(d.leases, 1);
      assert.equal(d.lastGlobalSequence, receipts[6].globalSequence);
      assert.equal(d.firstTimestampMs, (await store.get(receipts[0].eventId)).timestampMs);
      assert.equal(d.lastTimestampMs, (await store.get(receipts[6].eventId)).timestampMs);
    } finally {
      await store.close();
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres inspection: readLast is the end of a full read, and following it skips nothing", async () => {
    const schema = freshSchema("last");
    const store = await PostgresStore.connect({ url: server.url, schema, pollIntervalMs: 50 });
    try {
      for (let i = 0; i < 12; i++) {
        await store.append(new Coordinate(`acct:${i % 4}`, "bank"), K, { i });
      }
      await store.append(new Coordinate("acct:10", "bank"), K, { i: 12 });
      const all = await store.read(Region.all(), { after: 0, limit: 100 });
      const ids = (es: StoredEvent[]) => es.map((e) => e.eventId);
      assert.deepEqual(ids(await store.readLast(Region.all(), 5)), ids(all.slice(-5)));
      assert.deepEqual(ids(await store.readLast(Region.all(), 500)), ids(all));
      assert.deepEqual(await store.readLast(Region.all(), 0), []);
      const exact = all.filter((e) => e.entity === "acct:1");
      assert.deepEqual(ids(await store.readLast(Region.stream("acct:1"), 2)), ids(exact.slice(-2)));
      const prefix = all.filter((e) => e.entity.startsWith("acct:1"));
      assert.equal(prefix.length, 4, "acct:1 ×3 and acct:10");
      assert.deepEqual(ids(await store.readLast(Region.entity("acct:1"), 10)), ids(prefix));
      await assert.rejects(
        store.readLast(Region.all(), -1),
        (e) => e instanceof InvalidArgumentError && e.message.includes("readLast: count"),
      );
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        store.readLast("all" as any, 1),
        (e) => e instanceof InvalidArgumentError && e.message.includes("readLast: region"),
      );

      const last = await store.readLast(Region.stream("acct:2"), 1);
      const stop = new AbortController();
      const seen: StoredEvent[] = [];
      const following = (async () => {
        for await (
          const e of store.subscribe(Region.stream("acct:2"), {
            after: last[0].globalSequence,
            signal: stop.signal,
          })
        ) {
          seen.push(e);
          if (seen.length === 1) stop.abort();
        }
      })();
      await store.append(new Coordinate("acct:3", "bank"), K, { other: true });
      await store.append(new Coordinate("acct:2", "bank"), K, { next: true });
      await following;
      assert.deepEqual(seen.map((e) => e.payload), [{ next: true }]);
    } finally {
      await store.close();
      await dropSchemas(server.url, [schema]);
    }
  });
}
