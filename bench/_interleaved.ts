/**
 * Interleaved rounds: every round runs each variant of a workload once, in
 * an order that rotates from round to round, so a noisy minute on a shared
 * machine hits all of them alike. Reports, per variant, the median and the
 * best (min) round and the ratio of the medians to the first variant (ours).
 *
 * @module
 */

import { MS_PER_S } from "./_deno_bench.ts";

/** One variant of a workload: a timed run of `events` events, returning milliseconds. */
export interface Variant {
  name: string;
  events: number;
  run(): number | Promise<number>;
}

/** Milliseconds `fn` takes. */
export function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Milliseconds `fn` takes to settle. */
export async function timedAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Median of `xs`. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The `q` quantile of `xs` (nearest rank). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const fmtRate = (eventsPerS: number): string =>
  eventsPerS >= 1e6 ? `${(eventsPerS / 1e6).toFixed(2)}M/s` : `${(eventsPerS / 1e3).toFixed(1)}K/s`;

/**
 * Run `variants` for `rounds` interleaved rounds, print the summary under
 * `title`, and return each variant's milliseconds per round. Variants with
 * `events: 0` are reported in milliseconds instead of events per second.
 *
 * Untimed warm-up first: one round, then more until every variant has run
 * for `warmupMs` in total (0: the one round). A run of a millisecond or two
 * is over long before V8 has optimized the code it runs (the first fifty
 * 1K-event reads of a fresh process measured ~1.5× slower than the later
 * ones), and what a user's long-lived process sees is the optimized code.
 */
export async function runInterleaved(
  title: string,
  variants: readonly Variant[],
  rounds: number,
  warmupMs = 0,
): Promise<number[][]> {
  const ms: number[][] = variants.map(() => []);
  const warm = variants.map(() => 0);
  for (let round = 0; round === 0 || warm.some((t) => t < warmupMs); round++) {
    for (let k = 0; k < variants.length; k++) warm[k] += await variants[k].run();
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + r) % variants.length;
      ms[v].push(await variants[v].run());
    }
  }
  console.log(`\n${title} — ${rounds} rounds, interleaved`);
  const base = median(ms[0]);
  variants.forEach((v, k) => {
    const med = median(ms[k]);
    const min = Math.min(...ms[k]);
    // Ratios compare throughput (events/s, or 1/time without events), ours first.
    const ratio = v.events === 0 ? base / med : (v.events / med) / (variants[0].events / base);
    const shown = v.events === 0
      ? `median ${med.toFixed(2).padStart(7)} ms  best ${min.toFixed(2).padStart(7)} ms`
      : `median ${fmtRate(v.events / (med / MS_PER_S)).padStart(9)}  best ${
        fmtRate(v.events / (min / MS_PER_S)).padStart(9)
      }`;
    console.log(
      `  ${v.name.padEnd(62)} ${shown}  ${k === 0 ? "" : `ours/this ${(1 / ratio).toFixed(2)}×`}`,
    );
  });
  return ms;
}
