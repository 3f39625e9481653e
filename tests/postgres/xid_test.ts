/**
 * A schema copied into another cluster by a logical dump and restore keeps
 * the old cluster's transaction ids, while the new cluster counts its own
 * from the beginning: global positions would go back. Connect refuses such
 * a schema, a connected client refuses to append once the server behind
 * its URL is such a copy, both before writing anything, and the remedy the
 * error names (`pg_resetwal` on the new cluster before the restore) works.
 */

import { Coordinate, EventKind, InvalidArgumentError, Region } from "../../mod.ts";
import { PostgresStore } from "../../src/postgres/mod.ts";
import { resetwalArgs } from "../../src/postgres/_xid.ts";
import { assert, assertEquals, assertFails } from "../conformance/assert.ts";
import { findPgBin, type PgServer, pgTool, startCluster } from "../fixtures/pg/cluster.ts";
import { adminClient, dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/xid_test.ts");
const K = EventKind.custom(0x1, 1);
/** What every refusal says: why, that nothing was written, and what to run. */
const REMEDY = /logical dump and restore.*Nothing was written.*pg_resetwal (-e \d+ )?-x \d+/s;

Deno.test("resetwalArgs: the next pg_xact segment boundary above the last id, with its epoch", () => {
  assertEquals(resetwalArgs(1323n), "-x 1048576");
  assertEquals(resetwalArgs(1048575n), "-x 1048576");
  assertEquals(resetwalArgs(1048576n), "-x 2097152");
  // xid8 past 2^32: the epoch goes in -e, the id within it in -x.
  assertEquals(resetwalArgs((3n << 32n) + 5n), "-e 3 -x 1048576");
  assertEquals(resetwalArgs((1n << 32n) - 1n), "-e 1 -x 0");
});

if (server) {
  Deno.test("postgres xid: connect refuses events whose transaction ids are past the server's", async () => {
    const schema = freshSchema("xid");
    const admin = adminClient(server.url);
    try {
      const store = await PostgresStore.connect({ url: server.url, schema });
      await store.append(new Coordinate("x:1", "xid"), K, { n: 1 });
      await store.append(new Coordinate("x:1", "xid"), K, { n: 2 });
      await store.close();
      // What a restore leaves: rows stamped with ids this server has not reached.
      await admin.unsafe(`UPDATE "${schema}".events
        SET tx_id = (pg_current_xact_id()::text::bigint + 5000000)::text::xid8`);
      const e = await assertFails(
        () => PostgresStore.connect({ url: server.url, schema }),
        InvalidArgumentError,
        "ids behind the events",
      );
      assert(REMEDY.test(e.message), e.message);
      assert(e.message.includes(`schema "${schema}"`), e.message);
      const [row] = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".events`);
      assertEquals(row.n, 2);
    } finally {
      await admin.end();
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("postgres xid: connect refuses an empty store whose xid_base is past the server's ids", async () => {
    const schema = freshSchema("xidb");
    const admin = adminClient(server.url);
    try {
      await (await PostgresStore.connect({ url: server.url, schema })).close();
      await admin.unsafe(`UPDATE "${schema}".meta
        SET value = (pg_current_xact_id()::text::bigint + 5000000)::text WHERE key = 'xid_base'`);
      for (const create of [true, false]) {
        const e = await assertFails(
          () => PostgresStore.connect({ url: server.url, schema, create }),
          InvalidArgumentError,
          `xid_base ahead (create: ${create})`,
        );
        assert(REMEDY.test(e.message), e.message);
      }
    } finally {
      await admin.end();
      await dropSchemas(server.url, [schema]);
    }
  });
}

/** A dump of `schema` on `url` in pg_dump's custom format, in a file the server user can read. */
async function dump(url: string, schema: string): Promise<string> {
  const bytes = await pgTool("pg_dump", ["-d", url, "-n", schema, "-Fc"]);
  const file = await Deno.makeTempFile({ prefix: "batpak-xid-", suffix: ".dump" });
  await Deno.writeFile(file, bytes);
  await Deno.chmod(file, 0o644);
  return file;
}

async function owned(options: Parameters<typeof startCluster>[0]): Promise<PgServer> {
  const s = await startCluster(options);
  if (typeof s === "string") throw new Error(s);
  return s;
}

if (server && findPgBin() !== undefined) {
  Deno.test("postgres xid: a real pg_dump/pg_restore into a fresh cluster is refused; the remedy works", async () => {
    const schema = "shop";
    const events = 200;
    const clusters: PgServer[] = [];
    let dumpFile: string | undefined;
    let early: PostgresStore | undefined;
    try {
      // A: the original cluster, with enough transactions to be ahead of a fresh one.
      const a = await owned({});
      clusters.push(a);
      early = await PostgresStore.connect({ url: a.url, schema, poolSize: 2 });
      for (let n = 0; n < events; n++) {
        await early.append(new Coordinate(`acct:${n % 4}`, "shop"), K, { n });
      }
      dumpFile = await dump(a.url, schema);
      // B: a fresh cluster behind A's very URL, holding the restored schema.
      await a.stop();
      const b = await owned({ port: Number(new URL(a.url).port) });
      clusters.push(b);
      await pgTool("pg_restore", ["-d", b.url, dumpFile]);

      // A client connected to A carries on against B: its append is refused, unwritten.
      const refused = await assertFails(
        () => early!.append(new Coordinate("acct:0", "shop"), K, { n: "late" }),
        InvalidArgumentError,
        "append after the restore",
      );
      assert(REMEDY.test(refused.message), refused.message);
      // A new client is refused at connect.
      const e = await assertFails(
        () => PostgresStore.connect({ url: b.url, schema }),
        InvalidArgumentError,
        "connect after the restore",
      );
      assert(REMEDY.test(e.message), e.message);
      const admin = adminClient(b.url, 1);
      const [row] = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".events`);
      await admin.end();
      assertEquals(row.n, events, "nothing written to the restored copy");

      // The remedy from the message: pg_resetwal on a new cluster before its first start.
      const args = /pg_resetwal ((?:-e \d+ )?-x \d+)/.exec(e.message)![1].split(" ");
      const c = await owned({ resetwal: args });
      clusters.push(c);
      await pgTool("pg_restore", ["-d", c.url, dumpFile]);
      const store = await PostgresStore.connect({ url: c.url, schema });
      try {
        const r = await store.append(new Coordinate("acct:0", "shop"), K, { n: "after" });
        const all = await store.read(Region.all(), { after: 0, limit: 1000 });
        assertEquals(all.length, events + 1);
        assert(all.every((x, i) => i === 0 || x.globalSequence > all[i - 1].globalSequence));
        assertEquals(all[all.length - 1].globalSequence, r.globalSequence);
        assertEquals((await store.verify()).ok, true);
      } finally {
        await store.close();
      }
    } finally {
      await early?.close();
      for (const c of clusters) await c.stop();
      if (dumpFile) await Deno.remove(dumpFile).catch(() => {});
    }
  });
}
