/**
 * R10: eight OS processes append concurrently to overlapping entities with
 * CAS and retry, while a consumer process follows the store: nothing lost,
 * nothing duplicated, every entity's sequences gapless, and the consumer
 * sees every event exactly once, in the order of a fresh full read.
 */

import { Region } from "../../mod.ts";
import { PostgresStore } from "../../src/postgres/mod.ts";
import { assert, assertEquals } from "../conformance/assert.ts";
import { runProcesses } from "../fixtures/pg/processes.ts";
import { dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/processes_test.ts");
const WRITERS = 8;
const PER_WRITER = 60;
const ENTITIES = 5;

if (server) {
  Deno.test("postgres processes: 8 writers with CAS + retry and a consumer lose and repeat nothing", async () => {
    const schema = freshSchema("procs");
    // Create the schema once up front, so the children only connect.
    await (await PostgresStore.connect({ url: server.url, schema })).close();
    try {
      const report = await runProcesses({
        url: server.url,
        schema,
        writers: WRITERS,
        perWriter: PER_WRITER,
        entities: ENTITIES,
        concurrency: 2,
      });
      const total = WRITERS * PER_WRITER;
      const store = await PostgresStore.connect({ url: server.url, schema });
      try {
        const full = await store.read(Region.all(), { after: 0, limit: total + 10 });
        assertEquals(full.length, total, "every acknowledged append is there, once");
        const keys = new Set(full.map((e) => {
          const p = e.payload as { w: number; i: number };
          return `${p.w}-${p.i}`;
        }));
        assertEquals(keys.size, total, "no append twice");
        for (let n = 0; n < ENTITIES; n++) {
          const stream = await store.readStream(`acct:${n}`);
          assertEquals(
            stream.map((e) => e.sequence),
            Array.from({ length: stream.length }, (_, i) => i + 1),
            `acct:${n} is gapless`,
          );
        }
        assertEquals(report.consumer.ids, full.map((e) => e.eventId), "consumer: once, in order");
        assert((await store.verify()).ok, "verify");
        const retries = report.writers.reduce((n, w) => n + w.casRetries, 0);
        assert(retries > 0, "the writers really contended");
        const rate = Math.round(total / (report.elapsedMs / 1000));
        console.log(`${total} appends by ${WRITERS} processes: ${rate}/s, ${retries} CAS retries`);
      } finally {
        await store.close();
      }
    } finally {
      await dropSchemas(server.url, [schema]);
    }
  });
}
