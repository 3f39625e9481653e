/**
 * Running one scenario twice and requiring parity: synchronously on the
 * embedded store ({@linkcode runScenario}), or on any backend one awaited
 * call at a time ({@linkcode runScenarioOn}), from the same scenario code.
 *
 * @module
 */

import { InvalidArgumentError } from "./_public.ts";
import { scenarioSeed, SEED_MAX } from "./_prng.ts";
import { runAsync, runSync, type Sim } from "./_sim.ts";
import { SimWorld } from "./_world.ts";
import { embeddedBackend, type HarnessBackend } from "./backend.ts";
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

const SCENARIO_RUNNERS: Record<
  Scenario,
  (ctx: ScenarioContext, world: SimWorld) => Sim<ScenarioRun>
> = {
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

/** Options of the runners that take a backend and the test hook. */
export interface DetailedOptions {
  /** Seed (uint32); default 37. */
  seed?: number;
  /** Test hook: a deliberately broken rule (see {@linkcode Mutation}). */
  mutation?: Mutation;
}

/** One run of `scenario` in a fresh store of `backend`, closed however the run ends. */
function* runOnce(
  backend: HarnessBackend,
  scenario: Scenario,
  ctx: ScenarioContext,
): Sim<ScenarioRun> {
  const world = yield* SimWorld.open(backend, `/m37/${scenarioLabel(scenario)}`);
  try {
    return yield* SCENARIO_RUNNERS[scenario](ctx, world);
  } finally {
    yield* world.close();
  }
}

/** Both runs of a scenario and their comparison. */
function* twice(
  backend: HarnessBackend,
  scenario: Scenario,
  seed: number,
  mutation: Mutation | undefined,
): Sim<DetailedOutcome> {
  const ctx: ScenarioContext = { seed: scenarioSeed(seed, scenarioLabel(scenario)), mutation };
  const first = yield* runOnce(backend, scenario, ctx);
  const second = yield* runOnce(backend, scenario, ctx);
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
 * {@linkcode runScenario} with the test hook: `mutation` injects a
 * deliberately broken rule (see {@linkcode Mutation}) so a test can prove
 * the scenario fails. Not part of the package's public surface.
 */
export function runScenarioDetailed(
  scenario: Scenario,
  options: DetailedOptions = {},
): DetailedOutcome {
  assertScenario(scenario, "runScenario");
  const seed = resolveSeed(options?.seed, "runScenario");
  return runSync(twice(embeddedBackend(), scenario, seed, options.mutation));
}

/**
 * The same two runs on any backend (a backend whose calls return promises:
 * each call is awaited before the next, so the runs stay deterministic).
 * On {@linkcode embeddedBackend} it gives exactly what
 * {@linkcode runScenarioDetailed} gives. Not part of the package's public
 * surface: `deno task harness:postgres` runs it on PostgreSQL.
 */
export async function runScenarioOn(
  backend: HarnessBackend,
  scenario: Scenario,
  options: DetailedOptions = {},
): Promise<DetailedOutcome> {
  assertScenario(scenario, "runScenarioOn");
  const seed = resolveSeed(options?.seed, "runScenarioOn");
  return await runAsync(twice(backend, scenario, seed, options.mutation));
}

/** The outcome without the test-only invariant list. */
export function outcomeOf(detailed: DetailedOutcome): ScenarioOutcome {
  const { invariants: _, ...outcome } = detailed;
  return outcome;
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
  return outcomeOf(runScenarioDetailed(scenario, { seed: options?.seed }));
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
