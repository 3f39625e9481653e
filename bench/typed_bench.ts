/**
 * Typed events: what named projections save, and what upcasting costs on
 * the read path. Run with `deno bench -A bench/typed_bench.ts`.
 *
 * | bench | what it shows |
 * | --- | --- |
 * | typed: 20 project calls, inline literal | the case: each call folds 100K events again |
 * | typed: 20 project calls, inline defineProjection | cached by name: one fold, then 19 cache hits |
 * | typed: readStream 100K, no kinds registered | the read path as before (baseline) |
 * | typed: readStream 100K, kind registered, current version | the upcast hook when nothing is upcast |
 * | typed: readStream 100K, every event one version behind | one upcaster call per event |
 *
 * Set TYPED_BENCH_EVENTS to change the entity's size (default 100,000).
 *
 * @module
 */

import { Coordinate, defineProjection, EventKind, Store, type StoredEvent } from "../mod.ts";

const EVENTS = Number(Deno.env.get("TYPED_BENCH_EVENTS") ?? 100_000);
const CALLS = 20;
const BATCH = 1000;

interface V1 {
  amount: number;
}
interface V2 {
  cents: number;
}
const DepositedV1 = EventKind.define<V1>(0x1, 0x004, "Deposited");
const Deposited = EventKind.define<V2>(0x1, 0x004, "Deposited", {
  version: 2,
  upcast: { 1: (v1: V1): V2 => ({ cents: v1.amount * 100 }) },
});
const acct = new Coordinate("acct:1", "bank");

/** A store whose one entity holds EVENTS events of `kind`. */
function filled(kind: typeof DepositedV1 | typeof Deposited, kinds = [Deposited]): string {
  const dir = Deno.makeTempDirSync({ prefix: "batpak-typed-bench-" });
  const store = Store.open({ dataDir: dir, kinds });
  for (let i = 0; i < EVENTS; i += BATCH) {
    const n = Math.min(BATCH, EVENTS - i);
    if (kind === Deposited) {
      store.appendBatch(
        Array.from({ length: n }, () => ({ coord: acct, kind: Deposited, payload: { cents: 1 } })),
      );
    } else {
      store.appendBatch(
        Array.from(
          { length: n },
          () => ({ coord: acct, kind: DepositedV1, payload: { amount: 1 } }),
        ),
      );
    }
  }
  store.close();
  return dir;
}

const oldDir = filled(DepositedV1, []);
const currentDir = filled(Deposited);
const sum = (total: number, e: StoredEvent) =>
  total + (Deposited.is(e) ? e.payload.cents : DepositedV1.is(e) ? e.payload.amount : 0);

const projections = Store.open(oldDir);
Deno.bench("typed: 20 project calls, inline literal", { group: "project", n: 3, warmup: 1 }, () => {
  for (let i = 0; i < CALLS; i++) projections.project("acct:1", { initial: () => 0, apply: sum });
});
let round = 0;
Deno.bench(
  "typed: 20 project calls, inline defineProjection",
  { group: "project", n: 3, warmup: 1, baseline: true },
  () => {
    // A new name per round: each round starts cold, like the literal's first call.
    const name = `balance-${round++}`;
    for (let i = 0; i < CALLS; i++) {
      projections.project("acct:1", defineProjection(name, { initial: () => 0, apply: sum }));
    }
  },
);

const plain = Store.open({ dataDir: currentDir, readOnly: true });
const registered = Store.open({ dataDir: currentDir, readOnly: true, kinds: [Deposited] });
const upcasting = Store.open({ dataDir: oldDir, readOnly: true, kinds: [Deposited] });
Deno.bench(
  "typed: readStream 100K, no kinds registered",
  { group: "read", n: 10, warmup: 2, baseline: true },
  () => {
    plain.readStream("acct:1");
  },
);
Deno.bench(
  "typed: readStream 100K, kind registered, current version",
  { group: "read", n: 10, warmup: 2 },
  () => {
    registered.readStream("acct:1");
  },
);
Deno.bench(
  "typed: readStream 100K, every event one version behind",
  { group: "read", n: 10, warmup: 2 },
  () => {
    upcasting.readStream("acct:1");
  },
);
