/**
 * Running one scenario twice and requiring parity.
 *
 * @module
 */

import { InvalidArgumentError } from "./_public.ts";
import { scenarioSeed, SEED_MAX } from "./_prng.ts";
import { type Metrics, metricsSignature } from "./metrics.ts";
import { assertScenario, Scenario, scenarioLabel } from "./scenario.ts";
import { checkpointReplayWindows } from "./scenarios/checkpoint_replay.ts";
import { leaseRenewalContention } from "./scenarios/lease_renewal.ts";
import { ownershipFencingContention } from "./scenarios/ownership_fencing.ts";
import { takeoverQueueRetryPressure } from "./scenarios/takeover_queue.ts";
import type { InvariantCheck, Mutation, ScenarioContext, ScenarioRun } from "./scenarios/_types.ts";

export type { InvariantCheck, Mutation } from "./scenarios/_types.ts";
export { MUTATIONS } from "./scenarios/_types.ts";

/** The seed used when none is given (M37). */
export const DEFAULT_SEED = 37;

/**
 * The outcome of one scenario, run twice with the same seed.
 *
 * @example
 * ```ts
 * import { runScenario, Scenario } from "@seed/batpak";
 * const outcome = runScenario(Scenario.OwnershipFencingContention, { seed: 7 });
 * console.log(outcome.passed, outcome.deterministic, outcome.invariantsMet); // true true true
 * ```
 */
export interface ScenarioOutcome {
  /** Which scenario ran. */
  scenario: Scenario;
  /** `invariantsMet && deterministic`. */
  passed: boolean;
  /** Both runs gave the same verdict and the same signature. */
  deterministic: boolean;
  /** Every invariant held, in both runs. */
  invariantsMet: boolean;
  /** Canonical signature of the first run: label, seed, invariant verdict, metrics. */
  signature: string;
  /** The first run's metrics. */
  profile: Metrics;
}

/**
 * Options of {@linkcode runScenario}.
 *
 * @example
 * ```ts
 * import { type RunScenarioOptions, runScenario, Scenario } from "@seed/batpak";
 * const options: RunScenarioOptions = { seed: 11 };
 * const a = runScenario(Scenario.OwnershipFencingContention, options);
 * const b = runScenario(Scenario.OwnershipFencingContention, options);
 * console.log(a.signature === b.signature); // true
 * ```
 */
export interface RunScenarioOptions {
  /** Seed of the simulation (uint32); default 37. The same seed gives the same outcome. */
  seed?: number;
}

const SCENARIO_RUNNERS: Record<Scenario, (ctx: ScenarioContext) => ScenarioRun> = {
  [Scenario.OwnershipFencingContention]: ownershipFencingContention,
  [Scenario.LeaseRenewalContention]: leaseRenewalContention,
  [Scenario.TakeoverQueueRetryPressure]: takeoverQueueRetryPressure,
  [Scenario.CheckpointReplayWindows]: checkpointReplayWindows,
};

/** Throw unless `seed` is a uint32 (or undefined: the default). */
export function resolveSeed(seed: unknown, where: string): number {
  if (seed === undefined) return DEFAULT_SEED;
  if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) {
    throw new InvalidArgumentError(
      `${where}: seed must be an integer in 0..${SEED_MAX}, found ${String(seed)}`,
    );
  }
  return seed;
}

function runSignature(scenario: Scenario, seed: number, run: ScenarioRun): string {
  const broken = run.invariants.filter((i) => !i.ok).map((i) => i.name);
  const verdict = broken.length === 0 ? "met" : `broken:${broken.join("+")}`;
  return `scenario=${scenarioLabel(scenario)};seed=${seed};invariants=${verdict};${
    metricsSignature(run.metrics)
  }`;
}

/** A {@linkcode ScenarioOutcome} with the first run's invariants, for tests. */
export interface DetailedOutcome extends ScenarioOutcome {
  /** Each invariant of the first run, by name. */
  invariants: readonly InvariantCheck[];
}

/**
 * {@linkcode runScenario} with the test hook: `mutation` injects a
 * deliberately broken rule (see {@linkcode Mutation}) so a test can prove
 * the scenario fails. Not part of the package's public surface.
 */
export function runScenarioDetailed(
  scenario: Scenario,
  options: { seed?: number; mutation?: Mutation } = {},
): DetailedOutcome {
  assertScenario(scenario, "runScenario");
  const seed = resolveSeed(options?.seed, "runScenario");
  const ctx: ScenarioContext = {
    seed: scenarioSeed(seed, scenarioLabel(scenario)),
    mutation: options.mutation,
  };
  const run = SCENARIO_RUNNERS[scenario];
  const first = run(ctx);
  const second = run(ctx);
  const met1 = first.invariants.every((i) => i.ok);
  const met2 = second.invariants.every((i) => i.ok);
  const sig1 = runSignature(scenario, seed, first);
  const sig2 = runSignature(scenario, seed, second);
  const deterministic = met1 === met2 && sig1 === sig2;
  const invariantsMet = met1 && met2;
  return {
    scenario,
    passed: invariantsMet && deterministic,
    deterministic,
    invariantsMet,
    signature: sig1,
    profile: first.metrics,
    invariants: first.invariants,
  };
}

/**
 * Run one scenario twice against the real `Store` on an in-memory file
 * system with a simulated clock, and require parity: `deterministic` when
 * both runs agree on the verdict and the signature; `passed` when the
 * invariants held and the runs agreed. Throws `InvalidArgumentError` for an
 * unknown scenario or a seed outside 0..2^32-1.
 *
 * @example
 * ```ts
 * import { runScenario, Scenario } from "@seed/batpak";
 * const a = runScenario(Scenario.TakeoverQueueRetryPressure, { seed: 42 });
 * const b = runScenario(Scenario.TakeoverQueueRetryPressure, { seed: 42 });
 * console.log(a.signature === b.signature); // true
 * console.log(a.profile.takeoverQueuePeak <= 4); // true
 * ```
 */
export function runScenario(scenario: Scenario, options?: RunScenarioOptions): ScenarioOutcome {
  const { invariants: _, ...outcome } = runScenarioDetailed(scenario, { seed: options?.seed });
  return outcome;
}

/**
 * `"pass"` or `"fail"`: the stable label of an outcome's verdict.
 *
 * @example
 * ```ts
 * import { passFailLabel, runScenario, Scenario } from "@seed/batpak";
 * console.log(passFailLabel(runScenario(Scenario.LeaseRenewalContention))); // pass
 * ```
 */
export function passFailLabel(outcome: ScenarioOutcome): string {
  return outcome.passed ? "pass" : "fail";
}
