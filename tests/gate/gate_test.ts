import assert from "node:assert/strict";
import { Denial, type Gate, gate, GateSet, Proposal, Receipt } from "../../src/gate/mod.ts";
import {
  type ColdStartContext,
  ColdStartGate,
  type PerfContext,
  ProjectionGate,
  QueryLatencyGate,
  WriteThroughputGate,
} from "../../bench/perf_gates/gates.ts";

const pass = <Ctx>(name: string): Gate<Ctx> => gate<Ctx>(name, () => undefined);
const deny = <Ctx>(name: string, message = "no"): Gate<Ctx> =>
  gate<Ctx>(name, () => new Denial(name, message));

/** A gate that counts its calls, so a test can tell whether it ran. */
function counting<Ctx>(inner: Gate<Ctx>): Gate<Ctx> & { calls: number } {
  const counted = {
    name: inner.name,
    calls: 0,
    evaluate(ctx: Ctx): Denial | undefined {
      counted.calls++;
      return inner.evaluate(ctx);
    },
  };
  return counted;
}

// --- Denial ---------------------------------------------------------------

Deno.test("Denial defaults code to DENIED and keeps an explicit code", () => {
  const d = new Denial("g", "msg");
  assert.equal(d.gate, "g");
  assert.equal(d.message, "msg");
  assert.equal(d.code, "DENIED");
  assert.deepEqual(d.context, {});
  assert.equal(new Denial("g", "msg", "QUOTA").code, "QUOTA");
});

Deno.test("Denial.withContext keeps insertion order", () => {
  const d = new Denial("g", "m")
    .withContext("zeta", "1")
    .withContext("alpha", "2")
    .withContext("mid", "3");
  assert.deepEqual(Object.keys(d.context), ["zeta", "alpha", "mid"]);
  assert.deepEqual(Object.entries(d.context), [["zeta", "1"], ["alpha", "2"], ["mid", "3"]]);
  assert.equal(d.toString(), "[g] m (zeta=1, alpha=2, mid=3)");
});

Deno.test("Denial.toString keeps insertion order even for integer-like keys", () => {
  const d = new Denial("g", "m").withContext("b", "x").withContext("2", "y");
  assert.equal(d.toString(), "[g] m (b=x, 2=y)");
  assert.deepEqual(d.context, { b: "x", "2": "y" });
});

Deno.test("Denial.withContext is immutable and chainable", () => {
  const base = new Denial("g", "m", "C");
  const one = base.withContext("a", "1");
  const two = one.withContext("b", "2");

  assert.notEqual(one, base);
  assert.deepEqual(base.context, {});
  assert.deepEqual(one.context, { a: "1" });
  assert.deepEqual(two.context, { a: "1", b: "2" });
  for (const d of [one, two]) {
    assert.ok(d instanceof Denial);
    assert.equal(d.gate, "g");
    assert.equal(d.message, "m");
    assert.equal(d.code, "C");
  }
  // Two branches from one template do not see each other's context.
  const left = base.withContext("side", "left");
  const right = base.withContext("side", "right");
  assert.equal(left.context.side, "left");
  assert.equal(right.context.side, "right");
});

Deno.test("Denial.withContext replaces an existing key in place", () => {
  const d = new Denial("g", "m")
    .withContext("a", "1")
    .withContext("b", "2")
    .withContext("a", "3");
  assert.deepEqual(Object.entries(d.context), [["a", "3"], ["b", "2"]]);
  assert.equal(d.toString(), "[g] m (a=3, b=2)");
});

Deno.test("Denial.context is frozen and stores odd keys as plain data", () => {
  const d = new Denial("g", "m").withContext("__proto__", "p").withContext("k", "v");
  assert.ok(Object.isFrozen(d.context));
  assert.ok(Object.isFrozen(new Denial("g", "m").context));
  assert.equal(Object.getPrototypeOf(d.context), Object.prototype);
  assert.deepEqual(Object.keys(d.context), ["__proto__", "k"]);
  assert.throws(() => {
    (d.context as Record<string, string>).k = "changed";
  }, TypeError);
  assert.equal(d.context.k, "v");
});

Deno.test("Denial.toString without context has no parentheses", () => {
  assert.equal(String(new Denial("gate", "message")), "[gate] message");
  assert.equal(`${new Denial("gate", "message").withContext("k", "v")}`, "[gate] message (k=v)");
});

Deno.test("Denial survives JSON with its context", () => {
  const d = new Denial("g", "m").withContext("a", "1");
  assert.deepEqual(JSON.parse(JSON.stringify(d)), {
    gate: "g",
    message: "m",
    code: "DENIED",
    context: { a: "1" },
  });
});

// --- Proposal and Receipt ---------------------------------------------------

Deno.test("Receipt.intoParts returns the payload and a fresh copy of the names", () => {
  const receipt = new Receipt({ n: 1 }, ["a", "b"]);
  const [payload, names] = receipt.intoParts();
  assert.deepEqual(payload, { n: 1 });
  assert.deepEqual(names, ["a", "b"]);
  names.push("mutated");
  assert.deepEqual(receipt.gatesPassed, ["a", "b"]);
  assert.ok(Object.isFrozen(receipt.gatesPassed));
});

Deno.test("Receipt copies the names it is given", () => {
  const names = ["a"];
  const receipt = new Receipt(0, names);
  names.push("b");
  assert.deepEqual(receipt.gatesPassed, ["a"]);
});

Deno.test("Proposal payload is carried by reference into the receipt", () => {
  const payload = { big: new Uint8Array(4) };
  const verdict = new GateSet<void>().push(pass("a")).evaluate(undefined, new Proposal(payload));
  assert.ok(verdict.ok);
  assert.equal(verdict.receipt.payload, payload);
});

// --- GateSet.evaluate -------------------------------------------------------

Deno.test("empty GateSet passes with no gate names", () => {
  const gates = new GateSet<number>();
  assert.equal(gates.size, 0);
  assert.deepEqual(gates.names(), []);
  const verdict = gates.evaluate(1, new Proposal("p"));
  assert.ok(verdict.ok);
  assert.equal(verdict.receipt.payload, "p");
  assert.deepEqual(verdict.receipt.gatesPassed, []);
  assert.deepEqual(verdict.receipt.intoParts(), ["p", []]);
  assert.deepEqual(gates.evaluateAll(1), []);
});

Deno.test("evaluate lists passed gates in push order", () => {
  const gates = new GateSet<void>().push(pass("c")).push(pass("a")).push(pass("b"));
  const verdict = gates.evaluate(undefined, new Proposal(42));
  assert.ok(verdict.ok);
  assert.deepEqual(verdict.receipt.gatesPassed, ["c", "a", "b"]);
  assert.deepEqual(verdict.receipt.intoParts(), [42, ["c", "a", "b"]]);
});

Deno.test("evaluate stops at the first denial; later gates are not called", () => {
  const first = counting(pass<void>("first"));
  const blocker = counting(deny<void>("blocker", "blocked"));
  const later = counting(pass<void>("later"));
  const alsoDenies = counting(deny<void>("also_denies"));
  const gates = new GateSet<void>().push(first).push(blocker).push(later).push(alsoDenies);

  const verdict = gates.evaluate(undefined, new Proposal(null));
  assert.ok(!verdict.ok);
  assert.equal(verdict.denial.gate, "blocker");
  assert.equal(verdict.denial.message, "blocked");
  assert.deepEqual([first.calls, blocker.calls, later.calls, alsoDenies.calls], [1, 1, 0, 0]);
});

Deno.test("evaluate passes the context to every gate and calls evaluate as a method", () => {
  const seen: unknown[] = [];
  class Recorder implements Gate<{ id: number }> {
    readonly name = "recorder";
    evaluate(ctx: { id: number }): Denial | undefined {
      seen.push(this === recorder, ctx.id);
      return undefined;
    }
  }
  const recorder = new Recorder();
  const verdict = new GateSet<{ id: number }>().push(recorder).evaluate(
    { id: 7 },
    new Proposal(0),
  );
  assert.ok(verdict.ok);
  assert.deepEqual(seen, [true, 7]);
});

Deno.test("a gate pushed during evaluation does not join the current run", () => {
  const gates = new GateSet<void>();
  gates.push(gate("adder", () => {
    gates.push(deny("late"));
    return undefined;
  }));
  const verdict = gates.evaluate(undefined, new Proposal(0));
  assert.ok(verdict.ok);
  assert.deepEqual(verdict.receipt.gatesPassed, ["adder"]);
  assert.equal(gates.size, 2);
});

Deno.test("receipt uses the name the gate had when pushed", () => {
  let name = "original";
  const shifty: Gate<void> = {
    get name() {
      return name;
    },
    evaluate: () => undefined,
  };
  const gates = new GateSet<void>().push(shifty);
  name = "renamed";
  const verdict = gates.evaluate(undefined, new Proposal(0));
  assert.ok(verdict.ok);
  assert.deepEqual(verdict.receipt.gatesPassed, ["original"]);
  assert.deepEqual(gates.names(), ["original"]);
});

// --- GateSet.evaluateAll ----------------------------------------------------

Deno.test("evaluateAll runs every gate and collects every denial in push order", () => {
  const gates = [
    counting(deny<void>("one")),
    counting(pass<void>("ok")),
    counting(deny<void>("two")),
    counting(deny<void>("three")),
  ];
  const set = new GateSet<void>();
  for (const g of gates) set.push(g);

  const denials = set.evaluateAll(undefined);
  assert.deepEqual(denials.map((d) => d.gate), ["one", "two", "three"]);
  assert.deepEqual(gates.map((g) => g.calls), [1, 1, 1, 1]);
});

Deno.test("evaluateAll returns an empty array when all pass", () => {
  const set = new GateSet<void>().push(pass("a")).push(pass("b"));
  assert.deepEqual(set.evaluateAll(undefined), []);
});

// --- GATE_DEFECT ------------------------------------------------------------

Deno.test("a gate throwing an Error is a GATE_DEFECT denial, not a crash", () => {
  const after = counting(pass<void>("after"));
  const gates = new GateSet<void>()
    .push(gate("broken", () => {
      throw new TypeError("cannot read x");
    }))
    .push(after);

  const verdict = gates.evaluate(undefined, new Proposal(0));
  assert.ok(!verdict.ok);
  const d = verdict.denial;
  assert.equal(d.code, "GATE_DEFECT");
  assert.equal(d.gate, "broken");
  assert.match(d.message, /broken/);
  assert.match(d.message, /cannot read x/);
  assert.equal(d.context.thrown, "TypeError: cannot read x");
  assert.equal(after.calls, 0, "a defect fails closed: evaluate stops there");

  const all = gates.evaluateAll(undefined);
  assert.equal(all.length, 1);
  assert.equal(all[0].code, "GATE_DEFECT");
  assert.equal(after.calls, 1, "evaluateAll keeps going after a defect");
});

Deno.test("a gate throwing a string or undefined is a GATE_DEFECT denial", () => {
  const cases: [unknown, string][] = [
    ["plain string", "plain string"],
    [undefined, "undefined"],
    [null, "null"],
    [42, "42"],
    [{ reason: "obj" }, '{"reason":"obj"}'],
    [Object.create(null), "[object Object]"],
    [Symbol("sym"), "Symbol(sym)"],
  ];
  for (const [thrown, shown] of cases) {
    const gates = new GateSet<void>().push(gate("thrower", () => {
      throw thrown;
    }));
    const [d] = gates.evaluateAll(undefined);
    assert.equal(d.code, "GATE_DEFECT", shown);
    assert.equal(d.gate, "thrower");
    assert.equal(d.context.thrown, shown);
    assert.ok(d.message.includes(shown), d.message);
  }
});

Deno.test("a gate throwing a value that cannot be printed is still a GATE_DEFECT", () => {
  const hostile = new Proxy({}, {
    get() {
      throw new Error("no access");
    },
    getPrototypeOf() {
      throw new Error("no prototype");
    },
  });
  const gates = new GateSet<void>().push(gate("hostile", () => {
    throw hostile;
  }));
  const [d] = gates.evaluateAll(undefined);
  assert.equal(d.code, "GATE_DEFECT");
  assert.equal(typeof d.context.thrown, "string");
});

Deno.test("a gate returning a value that cannot be inspected is still a GATE_DEFECT", () => {
  const hostile = new Proxy({}, {
    get() {
      throw new Error("no access");
    },
    getPrototypeOf() {
      throw new Error("no prototype");
    },
  });
  const bad = { name: "hostile", evaluate: () => hostile } as unknown as Gate<void>;
  const [d] = new GateSet<void>().push(bad).evaluateAll(undefined);
  assert.equal(d.code, "GATE_DEFECT");
  assert.equal(d.gate, "hostile");
  assert.equal(typeof d.context.returned, "string");
});

Deno.test("a gate returning neither undefined nor a Denial is a GATE_DEFECT", () => {
  const cases: [unknown, string][] = [
    [null, "null"],
    [false, "boolean false"],
    [0, "number 0"],
    ["denied", 'string "denied"'],
    [{ gate: "fake", message: "duck-typed" }, 'object {"gate":"fake","message":"duck-typed"}'],
  ];
  for (const [returned, shown] of cases) {
    const bad = { name: "bad", evaluate: () => returned } as unknown as Gate<void>;
    const verdict = new GateSet<void>().push(bad).evaluate(undefined, new Proposal(0));
    assert.ok(!verdict.ok, shown);
    assert.equal(verdict.denial.code, "GATE_DEFECT");
    assert.equal(verdict.denial.gate, "bad");
    assert.equal(verdict.denial.context.returned, shown);
    assert.ok(verdict.denial.message.includes("bad"));
  }
});

Deno.test("an async gate is a GATE_DEFECT and its rejection does not crash", async () => {
  const asyncGate = {
    name: "async",
    evaluate: () => Promise.reject(new Error("late failure")),
  } as unknown as Gate<void>;
  const [d] = new GateSet<void>().push(asyncGate).evaluateAll(undefined);
  assert.equal(d.code, "GATE_DEFECT");
  assert.equal(d.context.returned, "a Promise");
  assert.match(d.message, /synchronous/);
  // Let the rejection settle: an unhandled rejection would fail this test.
  await new Promise((resolve) => setTimeout(resolve, 0));
});

// --- push validation and helpers ----------------------------------------------

Deno.test("push rejects malformed gates with a message naming what was found", () => {
  const set = new GateSet<void>();
  assert.throws(
    () => set.push(null as unknown as Gate<void>),
    /expected a Gate object, found null/,
  );
  assert.throws(
    () => set.push({ name: "", evaluate: () => undefined }),
    /non-empty string gate name, found string ""/,
  );
  assert.throws(
    () => set.push({ name: "x" } as unknown as Gate<void>),
    /gate "x" to have an evaluate\(\) method, found undefined/,
  );
  assert.equal(set.size, 0);
});

Deno.test("gate() builds a frozen Gate and validates its arguments", () => {
  const g = gate<number>("n", (n) => (n > 0 ? undefined : new Denial("n", "bad")), "positive");
  assert.equal(g.name, "n");
  assert.equal(g.description, "positive");
  assert.ok(Object.isFrozen(g));
  assert.equal(g.evaluate(1), undefined);
  assert.ok(g.evaluate(0) instanceof Denial);
  assert.equal("description" in gate("bare", () => undefined), false);
  assert.throws(() => gate("", () => undefined), TypeError);
  assert.throws(
    () => gate("x", 5 as unknown as () => undefined),
    /expected evaluate to be a function, found number 5/,
  );
});

Deno.test("size and names follow pushes; names returns a copy", () => {
  const set = new GateSet<void>().push(pass("a"));
  assert.equal(set.size, 1);
  set.push(pass("b"));
  assert.equal(set.size, 2);
  const names = set.names();
  assert.deepEqual(names, ["a", "b"]);
  names.push("c");
  assert.deepEqual(set.names(), ["a", "b"]);
});

// --- Ported from batpak tests/perf_gates.rs ------------------------------------
// The gates are the ones `deno task perf-gates` runs (bench/perf_gates/gates.ts).

Deno.test("cold_start_gate_rejects_slow", () => {
  const gates = new GateSet<ColdStartContext>().push(new ColdStartGate(1));
  const verdict = gates.evaluate(
    { coldStartMs: 100, eventCount: 1_000 },
    new Proposal(100),
  );
  assert.ok(
    !verdict.ok,
    "PROPERTY: ColdStartGate must reject a cold start that exceeds the configured maxMs.\n" +
      "Investigate: src/gate/gate.ts GateSet.evaluate.",
  );
  assert.equal(verdict.denial.gate, "cold_start_performance");
  assert.equal(verdict.denial.code, "COLD_START_SLOW");
  assert.deepEqual(verdict.denial.context, {
    event_count: "1000",
    cold_start_ms: "100",
    max_ms: "1",
  });
  assert.match(verdict.denial.message, /Investigate: src\/store\/store\.ts/);
});

Deno.test("cold_start_gate passes a fast start and names itself in the receipt", () => {
  const gates = new GateSet<ColdStartContext>().push(new ColdStartGate(2_000));
  const verdict = gates.evaluate({ coldStartMs: 12, eventCount: 1_000 }, new Proposal(12));
  assert.ok(verdict.ok, verdict.ok ? "" : String(verdict.denial));
  const [ms, gateNames] = verdict.receipt.intoParts();
  assert.equal(ms, 12);
  assert.deepEqual(
    gateNames,
    ["cold_start_performance"],
    "PROPERTY: GateSet receipt must record the gate name 'cold_start_performance'.\n" +
      "Investigate: src/gate/gate.ts GateSet.evaluate receipt names.",
  );
});

Deno.test("multi_gate_collects_all_denials", () => {
  const ctx: PerfContext = {
    eventCount: 1000,
    eventsPerSec: 1.0,
    queryUs: 999_999.0,
    projectionMs: 999_999.0,
  };
  const gates = new GateSet<PerfContext>()
    .push(new WriteThroughputGate(1_000))
    .push(new QueryLatencyGate(50_000))
    .push(new ProjectionGate(5_000));

  const denials = gates.evaluateAll(ctx);
  assert.equal(
    denials.length,
    3,
    "PROPERTY: evaluateAll must collect ALL 3 gate failures, not stop at the first denial.\n" +
      "Investigate: src/gate/gate.ts GateSet.evaluateAll.",
  );
  assert.deepEqual(
    denials.map((d) => d.gate),
    ["write_throughput", "query_latency", "projection_replay"],
    "PROPERTY: denials come in push order.\nInvestigate: src/gate/gate.ts GateSet.evaluateAll.",
  );
  const expectedFiles = ["src/log/writer.ts", "src/index/query.ts", "src/read/projection.ts"];
  denials.forEach((d, i) => {
    assert.ok(
      d.message.includes(`Investigate: ${expectedFiles[i]}`),
      `PROPERTY: the ${d.gate} denial must name ${expectedFiles[i]}; got: ${d.message}`,
    );
  });
  assert.deepEqual(denials[0].context, {
    events_per_sec: "1",
    min_required: "1000",
    event_count: "1000",
  });
  assert.deepEqual(denials[1].context, { query_us: "999999", max_us: "50000" });
  assert.deepEqual(denials[2].context, {
    projection_ms: "999999",
    max_ms: "5000",
    event_count: "1000",
  });
});

Deno.test("multi_gate passes when every metric is within budget", () => {
  const gates = new GateSet<PerfContext>()
    .push(new WriteThroughputGate(1_000))
    .push(new QueryLatencyGate(50_000))
    .push(new ProjectionGate(5_000));
  const ctx = { eventCount: 1000, eventsPerSec: 50_000, queryUs: 30, projectionMs: 4 };
  assert.deepEqual(gates.evaluateAll(ctx), []);
  const verdict = gates.evaluate(ctx, new Proposal(ctx));
  assert.ok(verdict.ok);
  assert.deepEqual(verdict.receipt.gatesPassed, [
    "write_throughput",
    "query_latency",
    "projection_replay",
  ]);
});
