/**
 * {@linkcode Pipeline}: a write guarded by a {@linkcode GateSet}. The gates
 * judge first; only a receipt lets the write through, and a denial is
 * recorded as audit evidence instead of the write.
 *
 * This is where gates meet the store: `src/gate` knows nothing about the
 * store, the store knows nothing about pipelines.
 *
 * @module
 */

import type { Denial } from "../gate/denial.ts";
import { GateSet } from "../gate/gate.ts";
import { Proposal } from "../gate/proposal.ts";
import { Coordinate } from "../core/coordinate.ts";
import { InvalidArgumentError, InvalidCoordinateError, ReservedKindError } from "../core/errors.ts";
import { EventKind, isEventKind } from "../core/kind.ts";
import { Store } from "../store/store.ts";
import type { AppendOptions, AppendReceipt } from "../core/types.ts";

/** Hex digits of a u16 kind in the audit record, e.g. `0x1001`. */
const KIND_HEX_DIGITS = 4;

/**
 * Outcome of {@linkcode Pipeline.prototype.append}: the committed event's
 * receipt and the gates it passed, or the denial and the receipt of the
 * system event that records it.
 *
 * @example
 * ```ts
 * import { Coordinate, Denial, EventKind, gate, GateSet, Pipeline, Store } from "@seed/batpak";
 * import type { PipelineResult } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const gates = new GateSet<number>().push(
 *   gate("positive", (n) => (n > 0 ? undefined : new Denial("positive", "must be > 0"))),
 * );
 * const pipeline = new Pipeline(store, gates);
 * const coord = new Coordinate("a", "s");
 * const result: PipelineResult = pipeline.append(-1, coord, EventKind.custom(1, 1), {});
 * console.log(result.ok ? result.gatesPassed : result.denial.gate); // positive
 * store.close();
 * ```
 */
export type PipelineResult =
  | {
    readonly ok: true;
    /** Receipt of the committed event. */
    readonly receipt: AppendReceipt;
    /** Names of the gates passed, in push order. */
    readonly gatesPassed: readonly string[];
  }
  | {
    readonly ok: false;
    /** The first denial; nothing of the write reached the log. */
    readonly denial: Denial;
    /** Receipt of the audit event recording the denial (entity `"$denials"`). */
    readonly recorded: AppendReceipt;
  };

/**
 * Guards appends with a {@linkcode GateSet}: `append` evaluates the gates
 * over a caller-supplied context, then either commits the receipt's payload
 * with {@linkcode Store.append}, or records the first denial with
 * {@linkcode Store.appendDenial} and writes nothing else. A gate that throws
 * is a `"GATE_DEFECT"` denial, recorded like any other.
 *
 * Errors of the store itself (a stale `expectedSequence`, a closed store)
 * are not denials: they are thrown as usual, after the gates passed.
 *
 * @typeParam Ctx What the gates inspect.
 *
 * @example Deny a large withdrawal, allow a small one
 * ```ts
 * import { Coordinate, Denial, EventKind, gate, GateSet, Pipeline, Store } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const store = Store.open(Deno.makeTempDirSync());
 * type Ctx = { amount: number };
 * const gates = new GateSet<Ctx>().push(gate("max_amount", (c) =>
 *   c.amount <= 100
 *     ? undefined
 *     : new Denial("max_amount", "Over the limit", "OVER_LIMIT")
 *       .withContext("amount", String(c.amount))));
 * const pipeline = new Pipeline(store, gates);
 * const account = new Coordinate("account:1", "bank");
 * const withdrawn = EventKind.custom(0x1, 2);
 *
 * const small = pipeline.append({ amount: 40 }, account, withdrawn, { amount: 40 });
 * assert.ok(small.ok);
 * assert.deepEqual(small.gatesPassed, ["max_amount"]);
 *
 * const large = pipeline.append({ amount: 900 }, account, withdrawn, { amount: 900 });
 * assert.ok(!large.ok);
 * assert.equal(large.denial.code, "OVER_LIMIT");
 * assert.equal(store.stream("account:1").length, 1); // no data from the denied write
 * assert.equal(store.get(large.recorded.eventId).entity, "$denials"); // but evidence
 * store.close();
 * ```
 */
export class Pipeline<Ctx> {
  /** The store written to. */
  readonly store: Store;
  /** The gates every write must pass. */
  readonly gates: GateSet<Ctx>;

  /**
   * Guard `store` with `gates`. The GateSet is used live: gates pushed later
   * apply to later writes.
   *
   * @param store The store to write to.
   * @param gates The gates every write must pass.
   * @throws {InvalidArgumentError} When either is of the wrong type.
   *
   * @example
   * ```ts
   * import { GateSet, Pipeline, Store } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const store = Store.open(Deno.makeTempDirSync());
   * const pipeline = new Pipeline(store, new GateSet<void>());
   * assert.equal(pipeline.gates.size, 0);
   * store.close();
   * ```
   */
  constructor(store: Store, gates: GateSet<Ctx>) {
    if (!(store instanceof Store)) {
      throw new InvalidArgumentError(`Pipeline: store must be a Store, found ${typeOf(store)}`);
    }
    if (!(gates instanceof GateSet)) {
      throw new InvalidArgumentError(`Pipeline: gates must be a GateSet, found ${typeOf(gates)}`);
    }
    this.store = store;
    this.gates = gates;
  }

  /**
   * Evaluate the gates over `ctx`; on a receipt, append its payload at
   * `coord`; on a denial, record the denial (with the attempted entity, scope
   * and kind) and write nothing else.
   *
   * The coordinate and kind are checked before the gates run, so a malformed
   * write throws instead of leaving a denial record.
   *
   * @param ctx What the gates inspect.
   * @param coord Where the event goes.
   * @param kind Its kind (not in a reserved category).
   * @param payload The event payload; committed only when every gate passed.
   * @param options Store append options (CAS, idempotency, fence, ...).
   * @returns `{ ok: true, receipt, gatesPassed }` or `{ ok: false, denial, recorded }`.
   * @throws {InvalidCoordinateError} When `coord` is not a Coordinate.
   * @throws {ReservedKindError} When `kind` is in a reserved category.
   * @throws {StoreError} Whatever {@linkcode Store.append} throws once the gates passed.
   *
   * @example A throwing gate is recorded as a GATE_DEFECT denial
   * ```ts
   * import { Coordinate, EventKind, gate, GateSet, Pipeline, Store } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const store = Store.open(Deno.makeTempDirSync());
   * const gates = new GateSet<void>().push(gate("broken", () => {
   *   throw new Error("boom");
   * }));
   * const result = new Pipeline(store, gates)
   *   .append(undefined, new Coordinate("a", "s"), EventKind.custom(1, 1), {});
   * assert.ok(!result.ok);
   * assert.equal(result.denial.code, "GATE_DEFECT");
   * assert.equal(store.stream("a").length, 0);
   * store.close();
   * ```
   */
  append(
    ctx: Ctx,
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options?: AppendOptions,
  ): PipelineResult {
    if (!(coord instanceof Coordinate)) {
      throw new InvalidCoordinateError(
        `Pipeline.append: coord must be a Coordinate, found ${typeOf(coord)}`,
      );
    }
    if (!isEventKind(kind)) {
      throw new InvalidArgumentError(
        `Pipeline.append: kind must be an EventKind (u16), found ${typeOf(kind)}`,
      );
    }
    if (EventKind.isReserved(kind)) throw new ReservedKindError(EventKind.category(kind));

    const verdict = this.gates.evaluate(ctx, new Proposal(payload));
    if (!verdict.ok) {
      const recorded = this.store.appendDenial(verdict.denial, {
        entity: coord.entity,
        scope: coord.scope,
        kind: `0x${kind.toString(16).padStart(KIND_HEX_DIGITS, "0")}`,
      });
      return { ok: false, denial: verdict.denial, recorded };
    }
    const [approved, gatesPassed] = verdict.receipt.intoParts();
    const receipt = this.store.append(coord, kind, approved, options);
    return { ok: true, receipt, gatesPassed: Object.freeze(gatesPassed) };
  }
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") {
    return `an object (${(v as object).constructor?.name ?? "null prototype"})`;
  }
  return typeof v;
}
