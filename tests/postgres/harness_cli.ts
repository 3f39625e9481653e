/**
 * `deno task harness:postgres [--seed N] [--keep-schemas]`: the M37 matrix
 * on `PostgresStore` — the same scenarios, each run twice, each run on a
 * fresh schema with the simulated clock — against `DATABASE_URL`, or a
 * throwaway cluster when it is unset and PostgreSQL is installed.
 *
 * Stdout is the report in the snapshot's markdown, byte for byte what `deno
 * task snapshot` writes for the embedded store when the two agree (so
 * `diff` against `tests/fixtures/contention_m37.md` works). Stderr says
 * where it ran, how long it took, and whether the signature equals the
 * embedded store's for the same seed. Exit 0 when it does and the matrix
 * passed, 1 otherwise, 2 for a bad command line or no server.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { SEED_MAX } from "../../src/harness/_prng.ts";
import { type Report, reportSignature, runMatrix } from "../../src/harness/mod.ts";
import { runMatrixOn } from "../../src/harness/matrix.ts";
import { DEFAULT_SEED } from "../../src/harness/run.ts";
import {
  snapshotMarkdownOf,
  snapshotReportMarkdown,
  snapshotSignatureOf,
} from "../../src/harness/snapshot.ts";
import { pgServer } from "../fixtures/pg/cluster.ts";
import { postgresBackend } from "../fixtures/pg/harness_backend.ts";

/** The matrix on PostgreSQL next to the embedded store's, for one seed. */
export interface HarnessComparison {
  /** The report on PostgreSQL. */
  postgres: Report;
  /** Its signature: the snapshot signature for the default seed, else the report signature. */
  signature: string;
  /** The embedded store's signature, the same way. */
  embeddedSignature: string;
  /** Stdout: the snapshot markdown (default seed) or the signature. */
  text: string;
  /** The embedded store's text, the same way. */
  embeddedText: string;
  /** Wall time of the PostgreSQL matrix, ms. */
  elapsedMs: number;
}

/** Run the matrix on PostgreSQL at `url` and on the embedded store, for `seed`. */
export async function compareOnPostgres(
  url: string,
  seed: number = DEFAULT_SEED,
  options: { keepSchemas?: boolean } = {},
): Promise<HarnessComparison> {
  const backend = postgresBackend(url, options);
  const started = performance.now();
  let postgres: Report;
  try {
    postgres = await runMatrixOn(backend, { seed });
  } finally {
    await backend.end();
  }
  const elapsedMs = performance.now() - started;
  if (seed === DEFAULT_SEED) {
    return {
      postgres,
      signature: snapshotSignatureOf(postgres),
      embeddedSignature: snapshotSignatureOf(runMatrix()),
      text: snapshotMarkdownOf(postgres),
      embeddedText: snapshotReportMarkdown(),
      elapsedMs,
    };
  }
  const signature = reportSignature(postgres);
  const embeddedSignature = reportSignature(runMatrix({ seed }));
  return {
    postgres,
    signature,
    embeddedSignature,
    text: signature + "\n",
    embeddedText: embeddedSignature + "\n",
    elapsedMs,
  };
}

/** The outcome signatures that differ, embedded first, for the stderr summary. */
function differences(c: HarnessComparison): string[] {
  const a = c.embeddedSignature.split("|");
  const b = c.signature.split("|");
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      out.push(`  embedded: ${a[i] ?? "(none)"}`, `  postgres: ${b[i] ?? "(none)"}`);
    }
  }
  return out;
}

if (import.meta.main) {
  const usage = "usage: deno task harness:postgres [--seed N] [--keep-schemas]";
  let values: { seed?: string; "keep-schemas"?: boolean };
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: { seed: { type: "string" }, "keep-schemas": { type: "boolean" } },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    Deno.exit(2);
  }
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) {
    console.error(`--seed must be an integer in 0..${SEED_MAX}\n${usage}`);
    Deno.exit(2);
  }
  const server = await pgServer();
  if (typeof server === "string") {
    console.error(`harness:postgres: no server: ${server}`);
    Deno.exit(2);
  }
  const where = server.owned ? "a throwaway cluster" : "DATABASE_URL";
  const c = await compareOnPostgres(server.url, seed, { keepSchemas: values["keep-schemas"] });
  await server.stop();
  console.log(c.text.trimEnd());
  const same = c.signature === c.embeddedSignature;
  const failures = c.postgres.failedScenarios + c.postgres.failedBudgets;
  console.error(
    `harness:postgres: seed ${seed} on ${where}, ${Math.round(c.elapsedMs)} ms; ` +
      `${c.postgres.outcomes.length - c.postgres.failedScenarios}/${c.postgres.outcomes.length} ` +
      `scenarios passed, ${c.postgres.failedBudgets} budget(s) exceeded; signature ` +
      (same ? "equals the embedded store's" : "DIFFERS from the embedded store's:"),
  );
  if (!same) { for (const line of differences(c)) console.error(line); }
  Deno.exit(same && failures === 0 ? 0 : 1);
}
