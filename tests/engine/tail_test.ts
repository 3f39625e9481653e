import assert from "node:assert/strict";
import {
  Coordinate,
  EventKind,
  InvalidArgumentError,
  Region,
  Store,
  type StoredEvent,
  StoreError,
} from "../../mod.ts";

const KIND = EventKind.custom(1, 1);
const coord = new Coordinate("acct:1", "bank");

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof StoreError ? e.code : `not a StoreError: ${e}`;
  }
  return undefined;
}

function sizes(dir: string): string {
  return [...Deno.readDirSync(dir)].map((e) =>
    `${e.name}:${Deno.statSync(`${dir}/${e.name}`).size}`
  )
    .sort().join(",");
}

Deno.test("readOnly: opens beside a writer without its lock, sees its events, and writes nothing", async () => {
  const dir = Deno.makeTempDirSync();
  const writer = Store.open(dir);
  for (let i = 0; i < 5; i++) writer.append(coord, KIND, { i });
  writer.sync();
  const reader = Store.open({ dataDir: dir, readOnly: true });
  assert.equal(reader.diagnostics().events, 5);
  assert.deepEqual(reader.get(reader.stream("acct:1")[4].eventId).payload, { i: 4 });
  const before = sizes(dir);
  // Typed as a StoreReader (no write methods); at run time every write is refused too.
  const asStore = reader as unknown as Store;
  assert.equal(code(() => asStore.append(coord, KIND, 1)), "READ_ONLY");
  assert.equal(code(() => asStore.appendBatch([{ coord, kind: KIND, payload: 1 }])), "READ_ONLY");
  assert.equal(code(() => asStore.sync()), "READ_ONLY");
  assert.equal(code(() => asStore.saveCursor("c", 1)), "READ_ONLY");
  assert.equal(code(() => asStore.ownership("bank").claim("me", 1000)), "READ_ONLY");
  await assert.rejects(
    () => asStore.durable(),
    (e) => e instanceof StoreError && e.code === "READ_ONLY",
  );
  assert.equal(reader.verify().ok, true);
  reader.close();
  assert.equal(sizes(dir), before, "a read-only store changes no file, not even on close");
  writer.close();
});

Deno.test("readOnly: refresh() follows appends, batches and segment rotation, and wakes subscribers", async () => {
  const dir = Deno.makeTempDirSync();
  const writer = Store.open({ dataDir: dir, segmentMaxBytes: 1024 });
  writer.append(coord, KIND, { i: 0 });
  writer.sync();
  const reader = Store.open({ dataDir: dir, readOnly: true, segmentMaxBytes: 1024 });
  assert.equal(reader.refresh(), 0);
  const seen: StoredEvent[] = [];
  const stop = new AbortController();
  const following = (async () => {
    for await (const e of reader.subscribe(Region.all(), { signal: stop.signal })) {
      seen.push(e);
      if (seen.length === 41) stop.abort();
    }
  })();
  for (let i = 1; i <= 30; i++) writer.append(coord, KIND, { i, pad: "p".repeat(40) });
  writer.appendBatch(
    Array.from(
      { length: 10 },
      (_, k) => ({ coord: new Coordinate(`b:${k}`, "bank"), kind: KIND, payload: k }),
    ),
  );
  writer.sync();
  assert.ok(writer.diagnostics().segments > 2, "the writer rotated segments");
  assert.equal(reader.refresh(), 40);
  await following;
  assert.deepEqual(seen.map((e) => e.globalSequence), Array.from({ length: 41 }, (_, i) => i + 1));
  assert.equal(reader.diagnostics().segments, writer.diagnostics().segments);
  assert.equal(reader.verify().ok, true);
  assert.equal(reader.refresh(), 0);
  reader.close();
  writer.close();
});

Deno.test("readOnly: a missing or empty directory is an error and nothing is created", () => {
  const parent = Deno.makeTempDirSync();
  assert.throws(
    () => Store.open({ dataDir: `${parent}/nope`, readOnly: true }),
    InvalidArgumentError,
  );
  assert.equal([...Deno.readDirSync(parent)].length, 0);
  assert.throws(() => Store.open({ dataDir: parent, readOnly: true }), InvalidArgumentError);
  assert.equal([...Deno.readDirSync(parent)].length, 0);
});

Deno.test("readOnly: a torn tail is read around, not cut; the next writable open cuts it", () => {
  const dir = Deno.makeTempDirSync();
  const store = Store.open(dir);
  for (let i = 0; i < 3; i++) store.append(coord, KIND, { i });
  store.close();
  const seg = `${dir}/000001.fbat`;
  Deno.writeFileSync(seg, new Uint8Array([9, 9, 9, 9, 9, 9, 9]), { append: true });
  const size = Deno.statSync(seg).size;
  const reader = Store.open({ dataDir: dir, readOnly: true });
  assert.equal(reader.diagnostics().events, 3);
  reader.close();
  assert.equal(Deno.statSync(seg).size, size, "read-only left the torn bytes alone");
  const again = Store.open(dir);
  assert.equal(again.diagnostics().openReport.truncatedBytes, 7);
  assert.equal(again.diagnostics().events, 3);
  again.close();
});

Deno.test("readOnly: another process reads a store this process holds locked", async () => {
  const dir = Deno.makeTempDirSync();
  const writer = Store.open(dir);
  for (let i = 0; i < 4; i++) writer.append(coord, KIND, { i });
  writer.sync();
  const script = `import { Store } from ${
    JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
  };
    const s = Store.open({ dataDir: ${JSON.stringify(dir)}, readOnly: true });
    console.log(s.diagnostics().events); s.close();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../../deno.json", import.meta.url).pathname, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "4");
  writer.close();
});
