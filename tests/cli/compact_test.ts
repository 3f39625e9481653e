/**
 * `batpak compact` and the lifecycle line of `batpak inspect`, run as a user
 * types them.
 */

import assert from "node:assert/strict";
import { Coordinate, Store } from "../../mod.ts";
import { assertOneLineError, cli } from "../fixtures/cli.ts";
import { KIND_A } from "../fixtures/store_helpers.ts";

function storeWithSecrets(): { dir: string; redacted: string } {
  const dir = Deno.makeTempDirSync({ prefix: "cli-compact-" });
  const store = Store.open({ dataDir: dir, segmentMaxBytes: 8192 });
  let redacted = "";
  for (let i = 0; i < 300; i++) {
    const r = store.append(new Coordinate(`user:${i % 3}`, "crm"), KIND_A, {
      i,
      email: `secret-${i}@example.com`,
      bio: "b".repeat(200),
    });
    if (i === 10) redacted = r.eventId;
  }
  store.deleteStream("user:0");
  store.redact(redacted, "asked");
  store.truncateBefore("user:2", 5);
  store.setRetention("crm", { maxCount: 1000 });
  store.close();
  return { dir, redacted };
}

function onDisk(dir: string, text: string): boolean {
  const latin1 = new TextDecoder("latin1");
  return [...Deno.readDirSync(dir)].some((f) =>
    latin1.decode(Deno.readFileSync(`${dir}/${f.name}`)).includes(text)
  );
}

Deno.test("cli compact: erases the payloads, reports the space, keeps the store whole", async () => {
  const { dir } = storeWithSecrets();
  try {
    assert.ok(onDisk(dir, "secret-0@"));
    const json = await cli("compact", dir, "--json");
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    // user:0 (100 events), user:2 below sequence 5 (4), the redacted one.
    assert.equal(report.eventsDropped, 105);
    assert.ok(report.bytesBefore - report.bytesAfter > 105 * 200, json.stdout);
    assert.ok(!onDisk(dir, "secret-0@"), "a deleted stream's payload");
    assert.ok(!onDisk(dir, "secret-10@"), "the redacted payload");
    assert.ok(!onDisk(dir, "secret-2@"), "a truncated payload (user:2, sequence 1)");
    assert.ok(onDisk(dir, "secret-1@"), "live payloads stay");
    const again = await cli("compact", dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /^compacted: 0 payload\(s\) erased in 0 segment\(s\), .*\(0 B reclaimed\)/,
    );
    const verify = await cli("verify", dir);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("cli inspect: shows tombstones, truncations, retention and redactions", async () => {
  const { dir } = storeWithSecrets();
  try {
    const run = await cli("inspect", dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /lifecycle +1 deleted stream\(s\) \(tombstones\), 1 truncated, 1 retention policy, 1 redacted event\(s\)/,
    );
    const json = JSON.parse((await cli("inspect", dir, "--json")).stdout);
    assert.deepEqual(json.lifecycle, {
      deletedStreams: 1,
      truncatedStreams: 1,
      retentionPolicies: 1,
      redactedEvents: 1,
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("cli compact: a missing, locked or non-store directory is one line and exit 1", async () => {
  const missing = await cli("compact", "/nonexistent/batpak-store");
  assertOneLineError(missing, 1, /nonexistent/);
  const empty = Deno.makeTempDirSync();
  try {
    assertOneLineError(await cli("compact", empty), 1, /segment/);
    const { dir } = storeWithSecrets();
    const holder = Store.open(dir);
    try {
      assertOneLineError(await cli("compact", dir), 1, /lock/i);
    } finally {
      holder.close();
      Deno.removeSync(dir, { recursive: true });
    }
  } finally {
    Deno.removeSync(empty, { recursive: true });
  }
  assertOneLineError(await cli("compact"), 2, /missing argument <dir>/);
  assertOneLineError(await cli("compact", "postgres://x@127.0.0.1:1/db"), 1, /directory store/);
});
