/**
 * What a scenario function gets and gives back.
 *
 * @module
 */

import type { Metrics } from "../metrics.ts";

/**
 * A deliberately broken rule, injected to prove the harness can fail. A test
 * hook only: each one affects the scenario named beside it and is ignored by
 * the others.
 *
 * - `accept_stale_fence` (ownership fencing): a deposed writer's rejected
 *   stale write is written anyway, without its fence.
 * - `renew_after_expiry` (lease renewal): a renewal the store rejected is
 *   reported as accepted.
 * - `takeover_ignores_lease` (takeover queue): a takeover the store rejected
 *   (lease held, or already taken over) is reported as accepted.
 * - `apply_without_dedupe` (checkpoint replay): the consumer applies replayed
 *   events without its idempotency key, so a replay applies them again.
 */
export type Mutation =
  | "accept_stale_fence"
  | "renew_after_expiry"
  | "takeover_ignores_lease"
  | "apply_without_dedupe";

/** Every mutation, each with the scenario it breaks. */
export const MUTATIONS: readonly Mutation[] = [
  "accept_stale_fence",
  "renew_after_expiry",
  "takeover_ignores_lease",
  "apply_without_dedupe",
];

/** Inputs of one scenario run. */
export interface ScenarioContext {
  /** The scenario's own seed (already mixed with its label). */
  readonly seed: number;
  /** Test hook: a broken rule to inject. */
  readonly mutation?: Mutation;
}

/** One named invariant and whether it held. */
export interface InvariantCheck {
  /** Stable snake-case name (it appears in signatures). */
  readonly name: string;
  /** True when it held. */
  readonly ok: boolean;
}

/** What one scenario run produced. */
export interface ScenarioRun {
  /** The contention profile. */
  readonly metrics: Metrics;
  /** Every invariant the scenario checks, in a fixed order. */
  readonly invariants: readonly InvariantCheck[];
}

/** Shorthand for building the invariant list. */
export function check(name: string, ok: boolean): InvariantCheck {
  return { name, ok };
}
