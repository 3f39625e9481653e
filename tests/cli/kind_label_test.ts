/**
 * How the CLI prints kinds (`src/cli/_event.ts`): `Deposited (0x1004)` for
 * a kind the store has a name for (recorded in `kinds.dat`, read by a
 * read-only open like the CLI's), `kind 0x1004` otherwise, with the
 * payload's schema version when above 1.
 */

import assert from "node:assert/strict";
import { Coordinate, EventKind, Store } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { eventLine, kindLabel } from "../../src/cli/_event.ts";
import { cli } from "../fixtures/cli.ts";

const Deposited = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
const DepositedV2 = EventKind.define<{ cents: number }>(0x1, 0x004, "Deposited", {
  version: 2,
  upcast: { 1: (v1: { amount: number }) => ({ cents: v1.amount * 100 }) },
});

Deno.test("cli kinds: a named kind prints as `Deposited (0x1004)`, an unnamed one as `kind 0x1001`", () => {
  const fs = new MemoryFileSystem();
  const writer = Store.open({ dataDir: "/d", fs });
  const acct = new Coordinate("acct:1", "bank");
  writer.append(acct, Deposited, { amount: 1 });
  writer.append(acct, EventKind.custom(0x1, 0x001), "plain");
  writer.close();
  const v2 = Store.open({ dataDir: "/d", fs, kinds: [DepositedV2] });
  v2.append(acct, DepositedV2, { cents: 5 });
  v2.close();
  const reader = Store.open({ dataDir: "/d", fs, readOnly: true }); // as the CLI opens it
  const [first, second, third] = reader.readStream("acct:1");
  const tail = (line: string) => line.slice(line.indexOf("  seq "));
  assert.equal(tail(eventLine(first, reader)), '  seq 1  Deposited (0x1004)  {"amount":1}\n');
  assert.equal(tail(eventLine(second, reader)), '  seq 2  kind 0x1001  "plain"\n');
  assert.equal(tail(eventLine(third, reader)), '  seq 3  Deposited v2 (0x1004)  {"cents":5}\n');
  assert.equal(tail(eventLine(first)), '  seq 1  kind 0x1004  {"amount":1}\n', "no name source");
  assert.equal(kindLabel(first.kind, {}), "kind 0x1004", "a source without kindName");
  assert.equal(kindLabel(third.kind, undefined, 2), "kind 0x1004 v2");
  reader.close();
});

Deno.test("cli kinds: `dump` and `tail` print the names a store recorded", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "batpak-cli-kinds-" });
  try {
    const store = Store.open({ dataDir: dir, kinds: [DepositedV2] });
    const acct = new Coordinate("acct:1", "bank");
    store.append(acct, DepositedV2, { cents: 5 });
    store.append(acct, EventKind.custom(0x1, 0x001), "plain");
    store.close();
    const dump = await cli("dump", dir, "--entity", "acct:1");
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /seq 1 .* Deposited v2 \(0x1004\) {2}scope bank/);
    assert.match(dump.stdout, /seq 2 .* kind 0x1001 {2}scope bank/);
    const tail = await cli("tail", dir);
    assert.equal(tail.code, 0, tail.stderr);
    assert.match(tail.stdout, /seq 1 {2}Deposited v2 \(0x1004\) {2}\{"cents":5\}/);
    assert.match(tail.stdout, /seq 2 {2}kind 0x1001 {2}"plain"/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
