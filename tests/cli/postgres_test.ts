/**
 * The CLI on a PostgreSQL store: `inspect`, `verify`, `tail` and `dump`
 * take a `postgres://` URL (`?schema=`), run as a user runs them (a
 * subprocess each), against a throwaway cluster or `DATABASE_URL`; without
 * either the file prints one "skipped" line and passes.
 */

import assert from "node:assert/strict";
import { Coordinate, EventKind, type StoredEvent } from "../../mod.ts";
import { PostgresStore, SCHEMA_VERSION } from "../../src/postgres/mod.ts";
import { assertOneLineError, childEnv, cli, MAIN, ROOT } from "../fixtures/cli.ts";
import { adminClient, dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/cli/postgres_test.ts");
const KIND = EventKind.custom(0x1, 1);
const ENTITIES = ["acct:1", "acct:10", "acct:1", "acct:2", "acct:10", "acct:1"];

/** A schema holding ENTITIES' events, and its URL for the CLI. */
async function makeSchema(url: string): Promise<{ schema: string; target: string }> {
  const schema = freshSchema("cli");
  const store = await PostgresStore.connect({ url, schema });
  try {
    let last = 0;
    for (const [i, entity] of ENTITIES.entries()) {
      last = (await store.append(new Coordinate(entity, "bank"), KIND, { i, big: 2n ** 60n }))
        .globalSequence;
    }
    await store.saveCursor("projector", last);
  } finally {
    await store.close();
  }
  const u = new URL(url);
  u.searchParams.set("schema", schema);
  return { schema, target: u.href };
}

const lines = (text: string) => text.trimEnd().split("\n").filter((l) => l.length > 0);
const entityOf = (line: string) => line.split("  ")[2].split(" @ ")[0];

if (server) {
  Deno.test("cli postgres: inspect reports counts and the schema version, text and JSON", async () => {
    const { schema, target } = await makeSchema(server.url);
    try {
      const run = await cli("inspect", target);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^backend\s+PostgreSQL$/m);
      assert.match(run.stdout, new RegExp(`^schema version\\s+${SCHEMA_VERSION}$`, "m"));
      assert.match(run.stdout, /^events\s+6$/m);
      assert.match(run.stdout, /^entities\s+3$/m);
      assert.match(run.stdout, /^cursors\s+1$/m);
      assert.match(run.stdout, new RegExp(`^store\\s+postgres://.*\\?schema=${schema}$`, "m"));
      const json = await cli("inspect", target, "--json");
      assert.equal(json.code, 0, json.stderr);
      const d = JSON.parse(json.stdout);
      assert.equal(d.backend, "postgres");
      assert.equal(d.schema, schema);
      assert.equal(d.schemaVersion, SCHEMA_VERSION);
      assert.equal(d.events, 6);
      assert.equal(d.entities, 3);
      assert.ok(d.lastGlobalSequence > 0 && d.tableBytes > 0);
    } finally {
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("cli postgres: verify passes a healthy schema and finds a tampered payload (exit 1)", async () => {
    const { schema, target } = await makeSchema(server.url);
    const admin = adminClient(server.url, 1);
    try {
      const ok = await cli("verify", target);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^ok: 6 events checked in .*, no problems$/m);
      // Another payload of the same shape: only the hash can tell.
      await admin.unsafe(
        `UPDATE "${schema}".events SET payload = (SELECT payload FROM "${schema}".events
          WHERE sequence = 2 AND entity = 'acct:1') WHERE entity = 'acct:1' AND sequence = 1`,
      );
      const bad = await cli("verify", target);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /^FAILED: \d+ problem\(s\)/m);
      assert.match(bad.stdout, new RegExp(`${schema}\\.events at position \\d+: `));
      assertOneLineError(bad, 1, `problem(s) in postgres://`);
      const json = JSON.parse((await cli("verify", target, "--json")).stdout);
      assert.equal(json.ok, false);
      assert.equal(json.problems[0].file, `${schema}.events`);
    } finally {
      await admin.end({ timeout: 5 });
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("cli postgres: tail -n, --entity exact, --prefix, --json", async () => {
    const { schema, target } = await makeSchema(server.url);
    try {
      const [all, exact, prefix, json] = await Promise.all([
        cli("tail", target, "-n", "4"),
        cli("tail", target, "--entity", "acct:1"),
        cli("tail", target, "--prefix", "acct:1", "-n", "4"),
        cli("tail", target, "--entity", "acct:10", "--json"),
      ]);
      for (const run of [all, exact, prefix, json]) assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(lines(all.stdout).map(entityOf), ENTITIES.slice(-4));
      assert.deepEqual(lines(exact.stdout).map(entityOf), ["acct:1", "acct:1", "acct:1"]);
      assert.deepEqual(lines(prefix.stdout).map(entityOf), [
        "acct:10",
        "acct:1",
        "acct:10",
        "acct:1",
      ]);
      const events = lines(json.stdout).map((l) => JSON.parse(l));
      assert.deepEqual(events.map((e) => [e.entity, e.sequence]), [["acct:10", 1], ["acct:10", 2]]);
      assert.equal(events[0].payload.big, String(2n ** 60n));
      const positions = lines(all.stdout).map((l) => Number(l.split(" ")[0].slice(1)));
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b), "oldest first");
    } finally {
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("cli postgres: tail --follow starts after the last event shown and prints new ones", async () => {
    const { schema, target } = await makeSchema(server.url);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "tail", target, "--entity", "acct:2", "-n", "1", "--follow"],
      cwd: ROOT,
      env: childEnv(),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = await PostgresStore.connect({ url: server.url, schema });
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const readLines = async (n: number) => {
        while (lines(seen).length < n) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += value;
        }
      };
      await readLines(1);
      assert.deepEqual(lines(seen).map(entityOf), ["acct:2"]);
      await writer.append(new Coordinate("acct:20", "bank"), KIND, { skip: true });
      await writer.append(new Coordinate("acct:2", "bank"), KIND, { late: 1 });
      await readLines(2);
      assert.deepEqual(lines(seen).map(entityOf), ["acct:2", "acct:2"]);
      assert.ok(lines(seen)[1].endsWith('{"late":1}'), seen);
      child.kill("SIGINT");
      const status = await child.status;
      assert.equal(status.code, 0);
      assert.equal(new TextDecoder().decode(await new Response(child.stderr).bytes()), "");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await writer.close();
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("cli postgres: dump --entity exact and --prefix, entity by entity", async () => {
    const { schema, target } = await makeSchema(server.url);
    try {
      const pairs = (stdout: string) =>
        JSON.parse(stdout).map((e: StoredEvent) => `${e.entity}#${e.sequence}`);
      const [exact, prefix, text, none] = await Promise.all([
        cli("dump", target, "--entity", "acct:1", "--json"),
        cli("dump", target, "--prefix", "acct:1", "--json"),
        cli("dump", target, "--entity", "acct:10"),
        cli("dump", target, "--entity", "acct"),
      ]);
      assert.equal(exact.code, 0, exact.stderr);
      assert.deepEqual(pairs(exact.stdout), ["acct:1#1", "acct:1#2", "acct:1#3"]);
      assert.deepEqual(pairs(prefix.stdout), [
        "acct:1#1",
        "acct:1#2",
        "acct:1#3",
        "acct:10#1",
        "acct:10#2",
      ]);
      const events = JSON.parse(exact.stdout);
      assert.equal(events[1].prevHash, events[0].eventHash, "the hash chain is shown");
      assert.ok(text.stdout.startsWith("acct:10: 2 event(s)\n"), text.stdout);
      assertOneLineError(none, 1, 'entity "acct" has no events');
    } finally {
      await dropSchemas(server.url, [schema]);
    }
  });

  Deno.test("cli postgres: a schema without a store is one line, exit 1, and is not created", async () => {
    const schema = freshSchema("clinone");
    const admin = adminClient(server.url, 1);
    try {
      const u = new URL(server.url);
      // A throwaway cluster trusts every login: a password there tests that it is never shown.
      if (server.owned && u.password === "") u.password = "hunter2";
      u.searchParams.set("schema", schema);
      const runs = await Promise.all([
        cli("inspect", u.href),
        cli("verify", u.href),
        cli("tail", u.href),
        cli("dump", u.href, "--entity", "x"),
      ]);
      for (const run of runs) {
        assertOneLineError(run, 1, `no batpak store at postgres://`);
        assert.ok(run.stderr.includes(`schema "${schema}"`), run.stderr);
        if (u.password) assert.ok(!run.stderr.includes(u.password), "the password is never shown");
      }
      const rows = await admin`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`;
      assert.equal(rows.length, 0, "the schema was not created");
      const badName = await cli("inspect", `${server.url}?schema=Not-A-Name`);
      assertOneLineError(badName, 2, "needs a PostgreSQL schema name");
    } finally {
      await admin.end({ timeout: 5 });
      await dropSchemas(server.url, [schema]);
    }
  });
}
