/**
 * The conformance suite against `PostgresStore` on a real server: each case
 * gets a fresh schema (a reopen connects to the same schema again), and a
 * simulated clock for its leases.
 */

import { PostgresStore } from "../../src/postgres/mod.ts";
import type { EventStore } from "../../src/core/types.ts";
import { CONFORMANCE_CASES, newContext } from "../conformance/cases.ts";
import { dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/conformance_test.ts");

if (server) {
  const FEATURES = { gaplessGlobalSequence: false, concurrentHandles: true };
  for (const c of CONFORMANCE_CASES) {
    Deno.test(`conformance (postgres): ${c.name}`, async () => {
      const ctx = newContext(FEATURES);
      const schema = freshSchema("conf");
      try {
        await c.run(
          () =>
            PostgresStore.connect({
              url: server.url,
              schema,
              clock: ctx.clock.now,
              poolSize: 4,
              pollIntervalMs: 100,
            }) as Promise<EventStore>,
          ctx,
        );
      } finally {
        await dropSchemas(server.url, [schema]);
      }
    });
  }
}
