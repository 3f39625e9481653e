/**
 * `deno task snapshot`: write the M37 snapshot to
 * `tests/fixtures/contention_m37.md` and print it. Deterministic: running it
 * twice gives the same bytes.
 *
 * @module
 */

import { snapshotReportMarkdown } from "./snapshot.ts";

/** Where the drift test expects the committed snapshot. */
export const SNAPSHOT_FIXTURE = new URL("../../tests/fixtures/contention_m37.md", import.meta.url);

if (import.meta.main) {
  const markdown = snapshotReportMarkdown();
  Deno.writeTextFileSync(SNAPSHOT_FIXTURE, markdown);
  console.log(markdown);
}
