import assert from "node:assert/strict";
import {
  ConcurrencyError,
  Coordinate,
  Denial,
  EventKind,
  gate,
  GateSet,
  InvalidArgumentError,
  InvalidCoordinateError,
  Pipeline,
  Region,
  ReservedKindError,
  Store,
  type StoredEvent,
} from "../../mod.ts";
import { DENIAL_ENTITY, SYSTEM_SCOPE, SystemKind } from "../../src/core/system.ts";

const KIND = EventKind.custom(0x1, 1);
const account = new Coordinate("account:1", "bank");

type Ctx = { amount: number; limit: number };

const maxAmount = gate<Ctx>("max_amount", (c) =>
  c.amount <= c.limit ? undefined : new Denial(
    "max_amount",
    `Amount ${c.amount} over the limit ${c.limit}. Investigate: the caller's limits`,
    "OVER_LIMIT",
  )
    .withContext("amount", String(c.amount))
    .withContext("limit", String(c.limit)));

function withStore(fn: (store: Store, dir: string) => void | Promise<void>) {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "batpak_pipeline_" });
    const store = Store.open(dir);
    try {
      await fn(store, dir);
    } finally {
      store.close();
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

function denialEvents(store: Store): StoredEvent[] {
  return store.stream(DENIAL_ENTITY).map((e) => store.get(e.eventId));
}

Deno.test(
  "a denied write writes no user event and exactly one denial system event",
  withStore((store) => {
    const pipeline = new Pipeline(store, new GateSet<Ctx>().push(maxAmount));
    const result = pipeline.append({ amount: 900, limit: 100 }, account, KIND, { amount: 900 });

    assert.ok(!result.ok);
    assert.equal(result.denial.gate, "max_amount");
    assert.equal(result.denial.code, "OVER_LIMIT");
    assert.equal(store.stream("account:1").length, 0, "no user data from a denied write");

    const [recorded, ...more] = denialEvents(store);
    assert.equal(more.length, 0);
    assert.equal(recorded.eventId, result.recorded.eventId);
    assert.equal(recorded.entity, DENIAL_ENTITY);
    assert.equal(recorded.scope, SYSTEM_SCOPE);
    assert.equal(recorded.kind, SystemKind.Denial);
    assert.equal(EventKind.category(recorded.kind), 0);
    assert.deepEqual(recorded.payload, {
      gate: "max_amount",
      code: "OVER_LIMIT",
      message: "Amount 900 over the limit 100. Investigate: the caller's limits",
      context: [["amount", "900"], ["limit", "100"]],
      attempt: [["entity", "account:1"], ["scope", "bank"], ["kind", "0x1001"]],
    });
    // The only event in the log is the denial, and it is not in the user's scope.
    assert.equal(store.diagnostics().events, 1);
    assert.deepEqual(store.query(Region.scope("bank")), []);
  }),
);

Deno.test(
  "an allowed write commits the receipt's payload and reports the gates passed",
  withStore((store) => {
    const gates = new GateSet<Ctx>()
      .push(maxAmount)
      .push(
        gate<Ctx>("positive", (c) => (c.amount > 0 ? undefined : new Denial("positive", "≤ 0"))),
      );
    const pipeline = new Pipeline(store, gates);
    const result = pipeline.append({ amount: 40, limit: 100 }, account, KIND, { amount: 40 }, {
      expectedSequence: 0,
    });

    assert.ok(result.ok);
    assert.deepEqual(result.gatesPassed, ["max_amount", "positive"]);
    assert.equal(result.receipt.sequence, 1);
    assert.deepEqual(store.get(result.receipt.eventId).payload, { amount: 40 });
    assert.equal(store.stream("account:1").length, 1);
    assert.deepEqual(denialEvents(store), []);
  }),
);

Deno.test(
  "a throwing gate is recorded as a GATE_DEFECT denial and nothing else is written",
  withStore((store) => {
    const gates = new GateSet<Ctx>().push(gate<Ctx>("broken", () => {
      throw new Error("boom");
    })).push(maxAmount);
    const result = new Pipeline(store, gates)
      .append({ amount: 1, limit: 100 }, account, KIND, { amount: 1 });

    assert.ok(!result.ok);
    assert.equal(result.denial.code, "GATE_DEFECT");
    assert.equal(store.stream("account:1").length, 0);
    const [recorded] = denialEvents(store);
    const payload = recorded.payload as { gate: string; code: string; context: unknown };
    assert.equal(payload.gate, "broken");
    assert.equal(payload.code, "GATE_DEFECT");
    assert.deepEqual(payload.context, [["thrown", "Error: boom"]]);
  }),
);

Deno.test(
  "only the first denial is recorded; later gates do not run",
  withStore((store) => {
    let laterRan = false;
    const gates = new GateSet<Ctx>()
      .push(gate<Ctx>("first", () => new Denial("first", "no")))
      .push(gate<Ctx>("second", () => {
        laterRan = true;
        return new Denial("second", "no");
      }));
    const result = new Pipeline(store, gates).append({ amount: 1, limit: 1 }, account, KIND, {});
    assert.ok(!result.ok);
    assert.equal(result.denial.gate, "first");
    assert.equal(laterRan, false);
    assert.equal(denialEvents(store).length, 1);
  }),
);

Deno.test("denial evidence survives reopen", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "batpak_pipeline_" });
  try {
    const store = Store.open(dir);
    const denied = new Pipeline(store, new GateSet<Ctx>().push(maxAmount))
      .append({ amount: 5, limit: 1 }, account, KIND, {});
    assert.ok(!denied.ok);
    await store.durable();
    store.close();

    const again = Store.open(dir);
    try {
      const [recorded] = denialEvents(again);
      assert.equal(recorded.eventId, denied.recorded.eventId);
      assert.equal((recorded.payload as { gate: string }).gate, "max_amount");
      assert.equal(again.stream("account:1").length, 0);
      assert.ok(again.verify().ok);
    } finally {
      again.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test(
  "malformed writes throw before the gates run and leave no denial record",
  withStore((store) => {
    let ran = 0;
    const pipeline = new Pipeline(
      store,
      new GateSet<void>().push(gate("deny", () => (ran++, new Denial("deny", "no")))),
    );
    assert.throws(
      () => pipeline.append(undefined, { entity: "a", scope: "s" } as Coordinate, KIND, {}),
      InvalidCoordinateError,
    );
    assert.throws(
      () => pipeline.append(undefined, account, EventKind.custom(0x0, 1), {}),
      ReservedKindError,
    );
    assert.throws(
      () => pipeline.append(undefined, account, 0x1_0000 as EventKind, {}),
      InvalidArgumentError,
    );
    assert.equal(ran, 0);
    assert.equal(store.diagnostics().events, 0);
  }),
);

Deno.test(
  "a store error after the gates pass is thrown, not recorded as a denial",
  withStore((store) => {
    const pipeline = new Pipeline(store, new GateSet<Ctx>().push(maxAmount));
    store.append(account, KIND, { amount: 1 });
    assert.throws(
      () => pipeline.append({ amount: 1, limit: 10 }, account, KIND, {}, { expectedSequence: 0 }),
      ConcurrencyError,
    );
    assert.equal(store.stream("account:1").length, 1);
    assert.deepEqual(denialEvents(store), []);
  }),
);

Deno.test(
  "denial events stay out of user projections and user-category queries",
  withStore((store) => {
    const pipeline = new Pipeline(store, new GateSet<Ctx>().push(maxAmount));
    pipeline.append({ amount: 1, limit: 10 }, account, KIND, { amount: 1 });
    pipeline.append({ amount: 50, limit: 10 }, account, KIND, { amount: 50 });
    const total = store.project("account:1", {
      initial: () => 0,
      apply: (sum: number, e) => sum + (e.payload as { amount: number }).amount,
    });
    assert.equal(total, 1);
    assert.equal(store.query(Region.all().withCategory(0x1)).length, 1);
    assert.equal(store.query(Region.all().withKinds(SystemKind.Denial)).length, 1);
  }),
);

Deno.test("Pipeline rejects a non-Store or non-GateSet", () => {
  assert.throws(() => new Pipeline({} as Store, new GateSet<void>()), InvalidArgumentError);
  const dir = Deno.makeTempDirSync({ prefix: "batpak_pipeline_" });
  const store = Store.open(dir);
  try {
    assert.throws(
      () => new Pipeline(store, [] as unknown as GateSet<void>),
      InvalidArgumentError,
    );
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test(
  "appendDenial validates its input and writes nothing when it is bad",
  withStore((store) => {
    assert.throws(
      () => store.appendDenial({ gate: "g", message: "m", code: "C" } as Denial),
      InvalidArgumentError,
    );
    assert.throws(
      () =>
        store.appendDenial(
          new Denial("g", "m"),
          { n: 1 } as unknown as Record<string, string>,
        ),
      InvalidArgumentError,
    );
    assert.throws(
      () => store.appendDenial(new Denial("g", "m"), [] as unknown as Record<string, string>),
      InvalidArgumentError,
    );
    assert.equal(store.diagnostics().events, 0);

    assert.ok(store.verify().ok);
  }),
);

Deno.test(
  "appendDenial records any context key, __proto__ included, and the store reopens",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "batpak_pipeline_" });
    try {
      const store = Store.open(dir);
      const denial = new Denial("g", "m").withContext("__proto__", "x").withContext("k", "v");
      const r = store.appendDenial(denial, JSON.parse('{"__proto__": "y"}'));
      const payload = store.get(r.eventId).payload as Record<string, unknown>;
      assert.deepEqual(payload.context, [["__proto__", "x"], ["k", "v"]]);
      assert.deepEqual(payload.attempt, [["__proto__", "y"]]);
      assert.equal(Object.fromEntries(payload.context as [string, string][]).k, "v");
      const plain = store.appendDenial(new Denial("g", "m"));
      assert.equal("attempt" in (store.get(plain.eventId).payload as object), false);
      await store.durable();
      store.close();

      const again = Store.open(dir);
      try {
        assert.equal(again.stream(DENIAL_ENTITY).length, 2);
        assert.ok(again.verify().ok);
      } finally {
        again.close();
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

Deno.test("appendDenial on a closed store throws StoreClosedError", () => {
  const dir = Deno.makeTempDirSync({ prefix: "batpak_pipeline_" });
  const store = Store.open(dir);
  store.close();
  try {
    assert.throws(() => store.appendDenial(new Denial("g", "m")), { code: "STORE_CLOSED" });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
