/**
 * Recording a gate's denial as a system event (entity `"$denials"`, scope
 * `"$system"`), for audit: a denied write leaves this evidence and no user
 * data.
 *
 * @module
 */

import { Coordinate } from "../core/coordinate.ts";
import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import { DENIAL_ENTITY, SYSTEM_SCOPE, SystemKind } from "../core/system.ts";
import type { AppendReceipt } from "../core/types.ts";
import type { Engine } from "../engine/engine.ts";
import { Denial } from "../gate/denial.ts";
import { appendOne } from "./append.ts";

/**
 * Append `denial` with the optional `attempt` description. The payload is
 * `{ gate, code, message, context, attempt? }`, `context` and `attempt` as
 * `[key, value]` pairs (order kept, any key — `"__proto__"` included).
 */
export function appendDenial(
  engine: Engine,
  denial: unknown,
  attempt: unknown,
): AppendReceipt {
  engine.assertOpen();
  if (!(denial instanceof Denial)) {
    throw new InvalidArgumentError(
      `appendDenial: denial must be a Denial, found ${describeValue(denial)}`,
    );
  }
  const payload: Record<string, unknown> = {
    gate: denial.gate,
    code: denial.code,
    message: denial.message,
    context: Object.entries(denial.context),
  };
  if (attempt !== undefined) {
    const pairs = typeof attempt === "object" && attempt !== null && !Array.isArray(attempt)
      ? Object.entries(attempt)
      : undefined;
    if (pairs === undefined || pairs.some(([, v]) => typeof v !== "string")) {
      throw new InvalidArgumentError(
        `appendDenial: attempt must be an object of strings, found ${describeValue(attempt)}`,
      );
    }
    payload.attempt = pairs;
  }
  const coord = new Coordinate(DENIAL_ENTITY, SYSTEM_SCOPE);
  return appendOne(engine, coord, SystemKind.Denial, payload, undefined, true);
}
