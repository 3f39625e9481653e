/**
 * R5, fuzzing (fast-check): the decoders of everything read from disk, on
 * random and mutated inputs, return a clean result or a typed failure (a
 * fault string, `CorruptSegmentError`/`StoreError`), never throw anything
 * else, never hang, and never allocate in proportion to a length they were
 * told; plus codec round-trip properties.
 *
 * Mutations are structure-aware: after mutating a frame or a sidecar, the
 * CRCs are often recomputed, so the input gets past the checksum and reaches
 * the field checks behind it (a forged file, not just a damaged one).
 *
 * `FUZZ_SCALE` multiplies the run counts: 0.25 (the default, about 6K
 * inputs) in `deno task test`, 1 (about 23K) in `deno task ci:fuzz`, 60
 * (about 1.4M) in `deno task fuzz`.
 * `FUZZ_SEED` fixes the seed; fast-check prints seed and path of a failure.
 */

import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import process from "node:process";
import {
  Coordinate,
  CorruptSegmentError,
  EventKind,
  InvalidPayloadError,
  Region,
  Store,
  StoreError,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { decodePayload, encodePayload } from "../../src/core/payload.ts";
import {
  EVENT_HEADER_BYTES,
  eventBodyLength,
  eventBodyLength2,
  EventFormat,
  EventHasher,
  type EventParts,
  expectedEventHash,
  readEventHeader,
  writeEventBody,
  writeEventBody2,
} from "../../src/log/event_codec.ts";
import { FRAME_BODY_BYTES_MAX, FRAME_HEADER_BYTES, parseFrame } from "../../src/log/frame.ts";
import { HASH_BYTES, hashInto } from "../../src/core/hash.ts";
import {
  checkSegmentHeader,
  encodeSegmentHeader,
  SEGMENT_HEADER_BYTES,
} from "../../src/log/segment.ts";
import { loadSidecar, resealSidecar, sidecarColumnAt } from "../../src/index/sidecar.ts";
import { SegmentReader } from "../../src/log/reader.ts";

const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? "0.25");
const SEED = Deno.env.has("FUZZ_SEED") ? Number(Deno.env.get("FUZZ_SEED")) : undefined;
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED });
/** Any single decode, open or verify slower than this is a hang (generous: CI machines are shared). */
const SLOW_MS = 15_000;
/** Heap growth allowed over a whole fuzz target (declared lengths go up to 4 GiB). */
const HEAP_GROWTH_MAX_BYTES = 64 * 1024 * 1024;

const DIR = "/db";
const KIND = EventKind.custom(0x1, 3);

/** A small valid store: its segment and index image bytes, and its frames. */
function fixture(): { segments: Uint8Array[]; image: Uint8Array; frames: Uint8Array[] } {
  const fs = new MemoryFileSystem();
  let now = 1_700_000_000_000;
  const store = Store.open({ dataDir: DIR, fs, segmentMaxBytes: 900, clock: () => now++ });
  const a = new Coordinate("a", "s");
  const b = new Coordinate("b:日本", "s");
  store.append(a, KIND, { i: 1 }, { idempotencyKey: "k1" });
  store.append(b, KIND, [1, "two", { three: 3n }]);
  store.appendBatch([
    { coord: a, kind: KIND, payload: { b: 1 } },
    { coord: b, kind: KIND, payload: { b: 2 }, causation: { priorItem: 0 } },
  ]);
  const r = store.append(a, KIND, "x".repeat(100), { idempotencyKey: 7n });
  store.append(b, KIND, null, { correlationId: r.eventId, causationId: r.eventId });
  store.ownership("s").claim("w", 1000);
  store.append(a, KIND, { last: true });
  store.close();
  const segments = fs.listFiles().filter((f) => f.endsWith(".fbat")).map((f) => fs.readFile(f));
  const frames: Uint8Array[] = [];
  for (const seg of segments) {
    for (let at = SEGMENT_HEADER_BYTES; at < seg.length;) {
      const f = parseFrame(seg, at);
      if (typeof f === "string") break;
      frames.push(seg.slice(at, at + f.frameLength));
      at += f.frameLength;
    }
  }
  assert.ok(segments.length >= 2 && frames.length >= 8);
  return { segments, image: fs.readFile(`${DIR}/index.img`), frames };
}

const FIX = fixture();

/** Byte-level mutations: flips, sets, truncation, insertion, 32-bit field overwrite. */
const mutationArb = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.nat(255) }),
    fc.record({
      op: fc.constant("u32" as const),
      at: fc.nat(),
      value: fc.oneof(
        fc.nat(),
        fc.constantFrom(
          0,
          1,
          0xffffffff,
          0x7fffffff,
          FRAME_BODY_BYTES_MAX,
          FRAME_BODY_BYTES_MAX + 1,
        ),
      ),
    }),
    fc.record({ op: fc.constant("cut" as const), at: fc.nat() }),
    fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 16 }),
    }),
  ),
  { minLength: 1, maxLength: 6 },
);
type Mutation = typeof mutationArb extends fc.Arbitrary<(infer M)[]> ? M : never;

function mutate(src: Uint8Array, ms: Mutation[], from = 0): Uint8Array {
  let buf = src.slice();
  for (const m of ms) {
    const span = buf.length - from;
    if (span <= 0) break;
    const at = from + (m.at % span);
    switch (m.op) {
      case "flip":
        buf[at] ^= 1 << m.bit;
        break;
      case "set":
        buf[at] = m.value;
        break;
      case "u32":
        if (at + 4 <= buf.length) new DataView(buf.buffer).setUint32(at, m.value >>> 0, true);
        break;
      case "cut":
        buf = buf.slice(0, at);
        break;
      case "insert": {
        const next = new Uint8Array(buf.length + m.bytes.length);
        next.set(buf.subarray(0, at));
        next.set(m.bytes, at);
        next.set(buf.subarray(at), at + m.bytes.length);
        buf = next;
      }
    }
  }
  return buf;
}

/** Recompute the CRC of the frame at `at`, if its declared length fits. */
function resealFrame(buf: Uint8Array, at: number): void {
  if (at + FRAME_HEADER_BYTES > buf.length) return;
  const dv = new DataView(buf.buffer, buf.byteOffset);
  const len = dv.getUint32(at + 4, true);
  if (at + FRAME_HEADER_BYTES + len > buf.length) return;
  dv.setUint32(at, crc32(buf.subarray(at + 4, at + FRAME_HEADER_BYTES + len)), true);
}

/** Run `fn`, failing when it burns more CPU than a hang budget (CPU time: the machine is shared). */
function timed<T>(what: string, fn: () => T): T {
  const t0 = process.cpuUsage();
  const r = fn();
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  assert.ok(ms < SLOW_MS, `${what} took ${ms.toFixed(0)} ms of CPU`);
  return r;
}

/** Heap plus ArrayBuffer memory: a declared length turned into an allocation shows in `external`. */
function allocated(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

/** Run `fn` and assert it did not allocate in proportion to a declared length. */
function bounded<T>(what: string, fn: () => T): T {
  const before = allocated();
  const r = timed(what, fn);
  const grew = allocated() - before;
  assert.ok(grew < HEAP_GROWTH_MAX_BYTES, `${what} allocated ${(grew / 2 ** 20).toFixed(0)} MiB`);
  return r;
}

function checkFrame(buf: Uint8Array, at: number, end: number): void {
  const f = timed("parseFrame", () => parseFrame(buf, at, end));
  if (typeof f === "string") {
    assert.ok(
      ["short_header", "bad_magic", "bad_length", "short_body", "bad_crc", "bad_kind"].includes(f),
    );
    return;
  }
  assert.ok(f.kind >= 1 && f.kind <= 4);
  assert.equal(f.bodyAt, at + FRAME_HEADER_BYTES);
  assert.equal(f.frameLength, FRAME_HEADER_BYTES + f.bodyLength);
  assert.ok(f.bodyLength <= FRAME_BODY_BYTES_MAX && at + f.frameLength <= end);
}

function checkEventHeader(buf: Uint8Array, at: number, length: number): void {
  for (const kind of [EventFormat.V1, EventFormat.V2]) {
    const h = readEventHeader(buf, at, length, kind);
    if (typeof h === "string") continue;
    const end = at + length;
    // Format 2's fixed start is 19 bytes (id, flags, kind); format 1's header is 44.
    const fixed = kind === EventFormat.V1 ? EVENT_HEADER_BYTES : 19;
    assert.equal(h.hashAt, end - HASH_BYTES);
    assert.equal(h.payloadEnd, h.hashAt);
    assert.ok(h.entityLength > 0 && h.scopeLength > 0);
    assert.ok(h.entityAt >= at + fixed && h.entityAt + h.entityLength <= h.hashAt);
    assert.ok(h.scopeAt + h.scopeLength <= h.hashAt && h.payloadAt <= h.payloadEnd);
    for (const p of [h.prevHashAt, h.prevLinkAt, h.correlationAt, h.causationAt, h.keyAt]) {
      assert.ok(p === -1 || (p >= at + fixed && p <= h.hashAt));
    }
  }
}

/** Open a store over these segment bytes (and image); only typed errors; reads typed too. */
function openFuzzed(segments: Uint8Array[], image?: Uint8Array): "opened" | "refused" {
  const fs = new MemoryFileSystem();
  segments.forEach((s, i) => fs.writeFile(`${DIR}/${String(i + 1).padStart(6, "0")}.fbat`, s));
  if (image) fs.writeFile(`${DIR}/index.img`, image);
  let store: Store;
  try {
    store = bounded(
      "Store.open",
      () =>
        Store.open({
          dataDir: DIR,
          fs,
          enableMmapIndex: image !== undefined,
          enableCheckpoint: false,
        }),
    );
  } catch (e) {
    if (e instanceof StoreError) return "refused";
    throw new Error(`Store.open threw an untyped ${(e as Error)?.name}: ${(e as Error)?.message}`, {
      cause: e,
    });
  }
  try {
    const entries = store.query(Region.all());
    for (const e of entries) {
      const before = allocated();
      try {
        store.get(e.eventId);
      } catch (err) {
        if (!(err instanceof StoreError)) {
          throw new Error(
            `get() threw an untyped ${(err as Error)?.name}: ${(err as Error)?.message}`,
            { cause: err },
          );
        }
      }
      const grew = allocated() - before;
      assert.ok(grew < HEAP_GROWTH_MAX_BYTES, `get() allocated ${(grew / 2 ** 20).toFixed(0)} MiB`);
    }
    for (const entity of ["a", "b:日本"]) {
      try {
        store.stream(entity);
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
      }
    }
    bounded("verify", () => store.verify());
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
  }
  try {
    store.close();
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
  }
  return "opened";
}

// ------------------------------------------------------------------ frames

Deno.test("fuzz parseFrame: random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (buf, a, e) => {
      const at = a % (buf.length + 1);
      const end = at + (e % (buf.length - at + 1));
      checkFrame(buf, at, end);
      // A buffer with the magic at the right place: the length and kind checks are reached.
      if (buf.length >= 12) {
        buf[10] = 0xb7;
        buf[11] = 0xf1;
        checkFrame(buf, 0, buf.length);
      }
    }),
    runs(4000),
  );
});

Deno.test("fuzz parseFrame: mutated valid frames, resealed or not, with declared lengths up to 4 GiB", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...FIX.frames),
      mutationArb,
      fc.boolean(),
      (frame, ms, reseal) => {
        const buf = mutate(frame, ms);
        if (reseal) resealFrame(buf, 0);
        checkFrame(buf, 0, buf.length);
      },
    ),
    runs(4000),
  );
});

// ------------------------------------------------------------ event bodies

Deno.test("fuzz readEventHeader: random and mutated bodies never throw and stay in bounds", () => {
  const bodies = FIX.frames.filter((f) => f[8] === 1 || f[8] === 4).map((f) =>
    f.subarray(FRAME_HEADER_BYTES)
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.tuple(fc.constantFrom(...bodies), mutationArb).map(([b, ms]) => mutate(b, ms)),
      ),
      fc.nat(),
      fc.nat(),
      (buf, a, l) => {
        checkEventHeader(buf, 0, buf.length);
        const at = a % (buf.length + 1);
        checkEventHeader(buf, at, l % (buf.length - at + 1));
      },
    ),
    runs(4000),
  );
});

const bytesArb = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const partsArb: fc.Arbitrary<EventParts> = fc.record({
  id: fc.array(fc.nat(0xffffffff), { minLength: 4, maxLength: 4 }),
  sequence: fc.integer({ min: 1, max: 0xffffffff }),
  globalSequence: fc.integer({ min: 1, max: 0xffffffff }),
  timestampMs: fc.double({ noNaN: true }),
  kind: fc.integer({ min: 0, max: 0xffff }),
  prevHash: fc.option(bytesArb(32, 32), { nil: null }),
  correlationId: fc.option(bytesArb(16, 16), { nil: null }),
  causationId: fc.option(bytesArb(16, 16), { nil: null }),
  entity: bytesArb(1, 1024),
  scope: bytesArb(1, 64),
  key: fc.option(bytesArb(1, 64), { nil: null }),
  keyIsString: fc.boolean(),
  payload: bytesArb(0, 300),
});

Deno.test("round trip: writeEventBody2 → readEventHeader returns every field (format 2)", () => {
  const hasher = new EventHasher();
  const idMs = 1_700_000_000_000;
  fc.assert(
    fc.property(
      partsArb,
      fc.nat(64),
      fc.nat(1000),
      fc.nat(1 << 20),
      fc.boolean(),
      (p, pad, delta, schema, erase) => {
        // Format 2 keeps the timestamp as a distance below the id's millisecond.
        const id = [Math.floor(idMs / 0x10000), ((idMs % 0x10000) << 16) >>> 0, p.id[2], p.id[3]];
        const parts: EventParts = {
          ...p,
          id,
          timestampMs: idMs - delta,
          schemaVersion: schema,
          erasedHash: erase ? new Uint8Array(32).fill(7) : null,
          payload: erase ? new Uint8Array(0) : p.payload,
        };
        const len = eventBodyLength2(parts);
        const buf = new Uint8Array(pad + len + 3);
        const hashAt = writeEventBody2(buf, pad, parts, hasher);
        const h = readEventHeader(buf, pad, len, EventFormat.V2);
        assert.ok(typeof h !== "string", String(h));
        assert.equal(h.hashAt, hashAt);
        assert.equal(h.sequence, p.sequence);
        assert.equal(h.globalSequence, p.globalSequence);
        assert.equal(h.timestampMs, idMs - delta);
        assert.equal(h.kind, p.kind);
        assert.equal(h.schemaVersion, schema);
        assert.equal(h.erased, erase);
        assert.deepEqual(buf.subarray(h.entityAt, h.entityAt + h.entityLength), p.entity);
        assert.deepEqual(buf.subarray(h.scopeAt, h.scopeAt + h.scopeLength), p.scope);
        assert.equal(h.prevLinkAt >= 0, p.prevHash !== null);
        if (p.prevHash) {
          assert.deepEqual(buf.subarray(h.prevLinkAt, h.prevLinkAt + 8), p.prevHash.subarray(0, 8));
        }
        assert.equal(h.keyAt >= 0, p.key !== null);
        if (p.key) assert.deepEqual(buf.subarray(h.keyAt, h.keyAt + h.keyLength), p.key);
        assert.deepEqual(
          buf.subarray(h.payloadAt, h.payloadEnd),
          erase ? new Uint8Array(32).fill(7) : p.payload,
        );
        // The hash covers the fields, the previous hash and the payload's hash: recomputing it
        // gives the stored one, and an erased payload (its hash kept) gives the same hash.
        const again = new Uint8Array(32);
        expectedEventHash(buf, h, p.prevHash, hasher, again, 0);
        assert.deepEqual(again, buf.subarray(hashAt, hashAt + 32));
      },
    ),
    runs(1500),
  );
});

Deno.test("format 2: erasing a payload (keeping its hash) keeps the event hash", () => {
  const hasher = new EventHasher();
  const idMs = 1_700_000_000_000;
  const base: EventParts = {
    id: [Math.floor(idMs / 0x10000), ((idMs % 0x10000) << 16) >>> 0, 1, 2],
    sequence: 3,
    globalSequence: 9,
    timestampMs: idMs,
    kind: 0x1001,
    prevHash: new Uint8Array(32).fill(1),
    correlationId: null,
    causationId: null,
    entity: new TextEncoder().encode("acct:1"),
    scope: new TextEncoder().encode("bank"),
    key: null,
    keyIsString: false,
    payload: new TextEncoder().encode("a secret payload"),
  };
  const whole = new Uint8Array(eventBodyLength2(base));
  const hashAt = writeEventBody2(whole, 0, base, hasher);
  const payloadHash = new Uint8Array(32);
  hashInto(base.payload, payloadHash, 0);
  const erased: EventParts = { ...base, payload: new Uint8Array(0), erasedHash: payloadHash };
  const stub = new Uint8Array(eventBodyLength2(erased));
  const stubHashAt = writeEventBody2(stub, 0, erased, hasher);
  assert.deepEqual(stub.subarray(stubHashAt), whole.subarray(hashAt));
  assert.ok(!new TextDecoder().decode(stub).includes("secret"));
});

Deno.test("round trip: writeEventBody → readEventHeader returns every field", () => {
  fc.assert(
    fc.property(partsArb, fc.nat(64), (p, pad) => {
      const len = eventBodyLength(p);
      const buf = new Uint8Array(pad + len + 8);
      const hashAt = writeEventBody(buf, pad, p);
      const h = readEventHeader(buf, pad, len);
      assert.ok(typeof h !== "string", String(h));
      assert.equal(h.hashAt, hashAt);
      assert.equal(h.sequence, p.sequence);
      assert.equal(h.globalSequence, p.globalSequence);
      assert.ok(Object.is(h.timestampMs, p.timestampMs));
      assert.equal(h.kind, p.kind);
      const id = new DataView(buf.buffer, pad, 16);
      assert.deepEqual([0, 4, 8, 12].map((o) => id.getUint32(o)), p.id);
      const part = (at: number, n: number) => buf.slice(at, at + n);
      assert.deepEqual(part(h.entityAt, h.entityLength), p.entity);
      assert.deepEqual(part(h.scopeAt, h.scopeLength), p.scope);
      assert.deepEqual(part(h.payloadAt, h.payloadEnd - h.payloadAt), p.payload);
      assert.deepEqual(h.prevHashAt < 0 ? null : part(h.prevHashAt, 32), p.prevHash);
      assert.deepEqual(h.correlationAt < 0 ? null : part(h.correlationAt, 16), p.correlationId);
      assert.deepEqual(h.causationAt < 0 ? null : part(h.causationAt, 16), p.causationId);
      assert.deepEqual(h.keyAt < 0 ? null : part(h.keyAt, h.keyLength), p.key);
      if (p.key) assert.equal(h.keyIsString, p.keyIsString);
      const digest = new Uint8Array(HASH_BYTES);
      hashInto(buf.subarray(pad, hashAt), digest, 0);
      assert.deepEqual(part(hashAt, HASH_BYTES), digest);
    }),
    runs(1500),
  );
});

// ------------------------------------------------------------------ payloads

/** What a payload reads back as: JSON-like normalisation (undefined → null in arrays, dropped in objects). */
function normalize(v: unknown): unknown {
  if (v === undefined) return null;
  if (Array.isArray(v)) return Array.from(v, (x) => normalize(x));
  if (v instanceof Uint8Array || v instanceof Date || v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = normalize(x);
  return out;
}

const payloadArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ unit: "binary" }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }), // lone surrogates too
    fc.double(),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.bigInt({ min: 2n ** 64n, max: 2n ** 70n }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 40 }),
    fc.date({ noInvalidDate: false }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), tie("value"), { maxKeys: 5 }),
  ),
})).value;

Deno.test("round trip: encodePayload → decodePayload, or InvalidPayloadError", () => {
  let rejected = 0;
  fc.assert(
    fc.property(payloadArb, (v) => {
      let bytes: Uint8Array;
      try {
        bytes = encodePayload(v).slice();
      } catch (e) {
        assert.ok(
          e instanceof InvalidPayloadError,
          `${(e as Error).name}: ${(e as Error).message}`,
        );
        rejected++;
        return;
      }
      assert.deepStrictEqual(decodePayload(bytes), normalize(v));
    }),
    runs(3000),
  );
  assert.ok(rejected > 0, "the generator reaches the rejected cases");
});

Deno.test("fuzz decodePayload: random and mutated MessagePack throws or returns, never hangs", () => {
  const samples = [{ a: [1, 2, "x"] }, "x".repeat(50), [1n, new Uint8Array(4)], { d: new Date(0) }]
    .map((v) => encodePayload(v).slice());
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.tuple(fc.constantFrom(...samples), mutationArb).map(([b, ms]) => mutate(b, ms)),
      ),
      (bytes) => {
        // Any throw is caught by the store and reported as CorruptSegmentError; only bounds matter here.
        try {
          bounded("decodePayload", () => decodePayload(bytes));
        } catch { /* malformed */ }
      },
    ),
    runs(1500),
  );
});

// --------------------------------------------------------------- segments

Deno.test("fuzz checkSegmentHeader: random and mutated headers", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 32 }),
        fc.tuple(fc.nat(0xffffffff), mutationArb).map(([n, ms]) =>
          mutate(encodeSegmentHeader(n), ms)
        ),
      ),
      fc.nat(0xffffffff),
      (h, n) => {
        const problem = checkSegmentHeader(h, n);
        if (problem === undefined) assert.deepEqual(h.slice(0, 16), encodeSegmentHeader(n));
        else assert.equal(typeof problem, "string");
      },
    ),
    runs(2000),
  );
});

Deno.test("fuzz loadSidecar: random, mutated and forged (CRCs recomputed) images never throw", () => {
  const fs = new MemoryFileSystem();
  fc.assert(
    fc.property(
      fc.oneof(
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
        {
          weight: 4,
          arbitrary: fc.tuple(mutationArb, fc.boolean()).map(([ms, reseal]) => {
            const b = mutate(FIX.image, ms);
            if (reseal) resealSidecar(b);
            return b;
          }),
        },
      ),
      fc.constantFrom("image" as const, "checkpoint" as const),
      (bytes, kind) => {
        fs.writeFile(`${DIR}/index.img`, bytes);
        const r = bounded("loadSidecar", () => loadSidecar(fs, `${DIR}/index.img`, kind));
        if (typeof r !== "string") {
          assert.ok(r.index.count >= 0);
          // The parts an image reads when first used: damage there is typed, never a crash.
          try {
            bounded("readAll", () => r.index.readAll());
          } catch (e) {
            if (!(e instanceof CorruptSegmentError)) throw e;
          } finally {
            r.index.release();
          }
        }
      },
    ),
    runs(2000),
  );
});

Deno.test("fuzz Store.open: mutated and forged segments and images give typed errors only", () => {
  let opened = 0;
  let refused = 0;
  fc.assert(
    fc.property(
      fc.nat(FIX.segments.length - 1),
      mutationArb,
      fc.boolean(),
      fc.option(fc.tuple(mutationArb, fc.boolean()), { freq: 3 }),
      (which, ms, reseal, imageMutation) => {
        const segments: Uint8Array[] = FIX.segments.map((s) => s.slice());
        const seg = mutate(segments[which], ms, SEGMENT_HEADER_BYTES);
        if (reseal) {
          // Forge: recompute every frame CRC that now fits, so the field checks are reached.
          for (let at = SEGMENT_HEADER_BYTES; at + FRAME_HEADER_BYTES <= seg.length;) {
            resealFrame(seg, at);
            const f = parseFrame(seg, at);
            if (typeof f === "string") break;
            at += f.frameLength;
          }
        }
        segments[which] = seg;
        let image: Uint8Array | undefined;
        if (imageMutation) {
          image = mutate(FIX.image, imageMutation[0]);
          if (imageMutation[1]) resealSidecar(image);
        } else if (imageMutation === null && reseal) image = FIX.image;
        if (openFuzzed(segments, image) === "opened") opened++;
        else refused++;
      },
    ),
    runs(800),
  );
  assert.ok(opened > 0 && refused > 0, `opened ${opened}, refused ${refused}`);
});

// ------------------------------------------------------------- regressions

/** The fixture with the string idempotency key of its first event replaced by invalid UTF-8, CRC resealed. */
function forgedKeySegment(): Uint8Array {
  const seg = FIX.segments[0].slice();
  const f = parseFrame(seg, SEGMENT_HEADER_BYTES);
  assert.ok(typeof f !== "string");
  const h = readEventHeader(seg, f.bodyAt, f.bodyLength, f.kind);
  assert.ok(typeof h !== "string" && h.keyAt >= 0 && h.keyIsString);
  seg.fill(0xff, h.keyAt, h.keyAt + h.keyLength);
  resealFrame(seg, SEGMENT_HEADER_BYTES);
  return seg;
}

Deno.test("regression (fuzz seed -163435888): a CRC-valid frame whose key is not UTF-8 fails typed", () => {
  const seg = forgedKeySegment();
  const fs = new MemoryFileSystem();
  fs.writeFile(`${DIR}/000001.fbat`, seg);
  fs.writeFile(`${DIR}/000002.fbat`, FIX.segments[1]);
  // A full scan used to throw TypeError ("The encoded data is not valid") out of Store.open.
  assert.throws(
    () => Store.open({ dataDir: DIR, fs, enableMmapIndex: false, enableCheckpoint: false }),
    (e) => e instanceof StoreError && e.code === "CORRUPT_SEGMENT",
  );
  // Through the index image the open skips the frame; verify() used to throw the same TypeError.
  fs.writeFile(`${DIR}/index.img`, FIX.image);
  const store = Store.open({ dataDir: DIR, fs });
  try {
    const report = store.verify();
    assert.ok(report.problems.some((p) => p.message.includes("not valid UTF-8")));
  } finally {
    store.close();
  }
});

Deno.test("regression: a forged index image declaring a 4 GiB frame does not make get() allocate it", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: DIR, fs });
  const ids = [0, 1, 2].map((i) => store.append(new Coordinate("a", "s"), KIND, { i }).eventId);
  store.close();
  const img = fs.readFile(`${DIR}/index.img`);
  const dv = new DataView(img.buffer);
  dv.setUint32(sidecarColumnAt(img, 0, "len") + 4, 0xfffffff0, true); // the second event's
  resealSidecar(img);
  fs.writeFile(`${DIR}/index.img`, img);
  // get() used to allocate the declared 4 GiB; now the image is rejected at open...
  const forged = Store.open({ dataDir: DIR, fs });
  try {
    const report = forged.diagnostics().openReport;
    assert.equal(report.path, "rebuild");
    assert.ok(report.rejectedSidecars[0].includes("outside the covered log"));
    assert.deepEqual(forged.get(ids[1]).payload, { i: 1 });
  } finally {
    forged.close();
  }
  // ...and the reader refuses such a length before allocating, whatever the index says.
  const reader = new SegmentReader(fs, DIR, 4);
  try {
    const before = allocated();
    assert.throws(
      () => reader.readRaw(1, SEGMENT_HEADER_BYTES, 0xfffffff0),
      (e) => e instanceof StoreError,
    );
    assert.ok(allocated() - before < HEAP_GROWTH_MAX_BYTES);
  } finally {
    reader.close();
  }
});

/** The fixture image with its MessagePack meta replaced (same padded size), CRCs recomputed. */
function forgeMeta(change: (meta: Record<string, unknown>) => void): Uint8Array {
  const img = FIX.image;
  const dv = new DataView(img.buffer, img.byteOffset);
  const length = dv.getUint32(40, true);
  const meta = decodePayload(img.subarray(56, 56 + length)) as Record<string, unknown>;
  change(meta);
  const room = ((56 + length + 7) & ~7) - 56;
  let bytes = encodePayload(meta).slice();
  for (let fill = 0; bytes.length > room || ((56 + bytes.length + 7) & ~7) - 56 !== room; fill++) {
    assert.ok(fill < 300, "the forged meta does not fit");
    bytes = encodePayload({ ...meta, fill: "x".repeat(fill) }).slice();
  }
  const out = img.slice();
  out.fill(0, 56, 56 + room);
  out.set(bytes, 56);
  new DataView(out.buffer).setUint32(40, bytes.length, true);
  resealSidecar(out);
  return out;
}

Deno.test("regression (fuzz seed 406124492): a forged image whose meta or rows lie is rejected, not trusted", () => {
  const forged: [string, Uint8Array, string?][] = [
    ["keys not pairs (Store.open threw TypeError)", forgeMeta((m) => m.keys = [5])],
    [
      "key → global sequence past the log (append threw NotFound)",
      forgeMeta((m) => m.keys = [["s:k1", 999]]),
    ],
    ["key → global sequence 0 (append threw TypeError)", forgeMeta((m) => m.keys = [["s:k1", 0]])],
    [
      "a non-string entity name",
      forgeMeta((m) => m.entities = (m.entities as unknown[]).map(() => 5)),
    ],
    // These grow the meta: dropping the keys makes room (the open rebuilds them from the log).
    ["no lag bases", forgeMeta((m) => delete m.lagBases), "lag base table"],
    ["a fractional lag base", forgeMeta((m) => (m.keys = [], m.lagBases = [0.5])), "lag base"],
    ["one lag base too many", forgeMeta((m) => (m.keys = [], m.lagBases = [0, 0])), "lag base"],
    [
      "a timestamp of row 0",
      forgeMeta((m) => (m.keys = [], m.timestamps = [[0, 5]])),
      "timestamp table of the wrong shape",
    ],
    [
      "a timestamp of a row with a lag",
      forgeMeta((m) => (m.keys = [], m.timestamps = [[1, 5]])),
      "names rows that have a lag",
    ],
    [
      "a timestamp entry not a pair",
      forgeMeta((m) => (m.keys = [], m.timestamps = [[1]])),
      "timestamp table of the wrong shape",
    ],
  ];
  // A row naming segment 0: get() threw an untyped NotFound for "000000.fbat".
  const row = FIX.image.slice();
  const dv = new DataView(row.buffer);
  const seg = sidecarColumnAt(row, 0, "seg");
  assert.equal(dv.getUint32(seg, true), 1, "the first row's segment");
  dv.setUint32(seg, 0, true);
  resealSidecar(row);
  forged.push(["a row in segment 0", row]);
  for (const [what, image, reason] of forged) {
    const fs = new MemoryFileSystem();
    FIX.segments.forEach((s, i) => fs.writeFile(`${DIR}/00000${i + 1}.fbat`, s));
    fs.writeFile(`${DIR}/index.img`, image);
    const store = Store.open({ dataDir: DIR, fs });
    try {
      const report = store.diagnostics().openReport;
      assert.equal(report.path, "rebuild", what);
      assert.ok(report.rejectedSidecars.some((r) => r.startsWith("index.img")), what);
      if (reason) {
        assert.ok(report.rejectedSidecars[0].includes(reason), report.rejectedSidecars[0]);
      }
      const again = store.append(new Coordinate("a", "s"), KIND, { i: 1 }, {
        idempotencyKey: "k1",
      });
      assert.equal(again.globalSequence, 1, `${what}: the key still finds its event`);
      for (const e of store.query(Region.all())) store.get(e.eventId);
    } finally {
      store.close();
    }
  }
});
