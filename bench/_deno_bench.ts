/**
 * `deno bench --json` with medians. Deno's JSON report has no median, so a
 * bench file defines its benches with {@linkcode sampledBench}, which records
 * every timed iteration (ms) and writes them as JSON at exit to the file named
 * by `BATPAK_BENCH_SAMPLES`; a runner starts the bench file with
 * {@linkcode runDenoBench} and takes each bench's median with
 * {@linkcode benchMedian}. Used by bench/perf_gates and bench/peers_bench.ts.
 *
 * @module
 */

/** Milliseconds per second. */
export const MS_PER_S = 1_000;
/** Microseconds per millisecond. */
export const US_PER_MS = 1_000;
/** Nanoseconds per millisecond (Deno's JSON times are in nanoseconds). */
export const NS_PER_MS = 1_000_000;

/** The environment variable naming the samples file. */
const SAMPLES_ENV = "BATPAK_BENCH_SAMPLES";

/** The subset of `deno bench --json` output the runners read. */
export interface DenoBenchReport {
  runtime?: string;
  cpu?: string;
  benches: {
    name: string;
    group?: string | null;
    baseline?: boolean;
    results: (
      | { ok: { n: number; min: number; max: number; avg: number; p75: number; p99: number } }
      | { failed: { message?: string; exceptionMessage?: string } }
    )[];
  }[];
}

/** Per-iteration times (ms) by bench name, as the samples file holds them. */
export type Samples = Record<string, number[]>;

/** Times exactly the region between `start()` and `end()`, for Deno and for the samples file. */
export interface Timer {
  start(): void;
  end(): void;
}

/** What {@linkcode sampledBench} passes on to `Deno.bench`. */
export interface SampledBenchOptions {
  name: string;
  group?: string;
  baseline?: boolean;
  ignore?: boolean;
  n?: number;
  warmup?: number;
}

let recorded: Samples | undefined;

/** The samples of this process, written once at exit when `BATPAK_BENCH_SAMPLES` is set. */
function samples(): Samples {
  if (recorded === undefined) {
    const all: Samples = recorded = {};
    const path = Deno.env.get(SAMPLES_ENV);
    if (path) {
      globalThis.addEventListener(
        "unload",
        () => Deno.writeTextFileSync(path, JSON.stringify(all)),
      );
    }
  }
  return recorded;
}

/**
 * `Deno.bench` whose timed region is `t.start()`..`t.end()`, each iteration's
 * time recorded for the samples file. A bench that never calls `end()` fails.
 */
export function sampledBench(
  options: SampledBenchOptions,
  fn: (t: Timer) => void | Promise<void>,
): void {
  const list: number[] = samples()[options.name] = [];
  Deno.bench({
    ...options,
    async fn(b) {
      let t0 = 0;
      let timed = false;
      const timer: Timer = {
        start() {
          b.start();
          t0 = performance.now();
        },
        end() {
          const elapsed = performance.now() - t0;
          b.end();
          timed = true;
          list.push(elapsed);
        },
      };
      await fn(timer);
      if (!timed) throw new Error(`bench "${options.name}" never called end()`);
    },
  });
}

/** A finished `deno bench --json` run. */
export interface DenoBenchRun {
  report: DenoBenchReport;
  samples: Samples;
  /** The exit code of `deno bench`. */
  code: number;
}

/**
 * Run `deno <args>` (a `deno bench --json …` command line) with a fresh
 * samples file; throws when it prints no JSON report.
 */
export async function runDenoBench(args: readonly string[]): Promise<DenoBenchRun> {
  const samplesPath = Deno.makeTempFileSync({ prefix: "batpak_bench_samples_", suffix: ".json" });
  try {
    console.error(`Running: deno ${args.join(" ")}`);
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: [...args],
      env: { [SAMPLES_ENV]: samplesPath },
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const text = new TextDecoder().decode(stdout);
    let report: DenoBenchReport;
    try {
      report = JSON.parse(text);
    } catch {
      throw new Error(
        `deno bench exited with ${code} and printed no JSON report:\n${text.slice(0, 2000)}`,
      );
    }
    const sampleText = Deno.readTextFileSync(samplesPath);
    return { report, samples: sampleText ? JSON.parse(sampleText) : {}, code };
  } finally {
    Deno.removeSync(samplesPath);
  }
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One bench's typical iteration: the median of its samples, else Deno's mean. */
export interface BenchMedian {
  ms: number;
  statistic: "median" | "mean";
  /** Samples the median was taken over (Deno's `n` for a mean). */
  iterations: number;
}

/**
 * The median ms per iteration of a bench Deno measured `ok.n` times, from its
 * recorded samples; Deno calls a bench a few more times than it measures and
 * measures the last `n`, so only those samples count. Without samples: the mean.
 */
export function benchMedian(
  ok: { n: number; avg: number },
  recordedMs: readonly number[] | undefined,
): BenchMedian {
  const s = recordedMs?.slice(-ok.n);
  return s !== undefined && s.length > 0
    ? { ms: median(s), statistic: "median", iterations: s.length }
    : { ms: ok.avg / NS_PER_MS, statistic: "mean", iterations: ok.n };
}
