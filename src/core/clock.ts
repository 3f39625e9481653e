/**
 * The one place a store reads its clock. `config.clock` is user code: it may
 * return NaN, a bigint or a date past what an event id can hold, or throw.
 * Every caller (appends, batches, fences, leases, projections' freshness)
 * goes through {@linkcode readClock}, so a bad clock is the same typed error
 * everywhere — a NaN can never make an expired lease look current.
 *
 * @module
 */

import { describeValue } from "./describe.ts";
import { InvalidArgumentError, StoreError } from "./errors.ts";
import { CLOCK_MS_MAX } from "./limits.ts";

/** Epoch milliseconds from `clock`, checked: a finite number in 0..{@linkcode CLOCK_MS_MAX}. */
export function readClock(clock: () => number): number {
  let now: unknown;
  try {
    now = clock();
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new InvalidArgumentError(
      `config.clock threw: ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    );
  }
  if (typeof now !== "number" || !Number.isFinite(now) || now < 0 || now > CLOCK_MS_MAX) {
    throw new InvalidArgumentError(
      `config.clock must return epoch ms, a finite number in 0..2^47, found ${describeValue(now)}`,
    );
  }
  return now;
}
