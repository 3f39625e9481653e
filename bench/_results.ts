/**
 * The files under bench/results/ and the numbers in them: every runner writes
 * a markdown table for people and a JSON file for tools, side by side.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** bench/results/, where runners write their reports. */
export const RESULTS_DIR: string = fileURLToPath(new URL("./results/", import.meta.url));

/** A number for people: thousands separators, `digits` decimals at most; "—" when not finite. */
export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, useGrouping: true });
}

/** A report's first lines: its title, then where and when it ran (`deno bench --json` metadata). */
export function reportHeading(title: string, meta: { runtime?: string; cpu?: string }): string[] {
  return [
    `# ${title}`,
    "",
    `${meta.runtime ?? "Deno"} on ${meta.cpu ?? "unknown CPU"}, ${new Date().toISOString()}.`,
  ];
}

/**
 * Write bench/results/`<name>`.md and `<name>`.json (non-finite numbers as
 * null, which JSON cannot hold otherwise); returns the markdown file's path.
 */
export function writeResults(name: string, markdown: string, data: unknown): string {
  Deno.mkdirSync(RESULTS_DIR, { recursive: true });
  const md = `${RESULTS_DIR}${name}.md`;
  Deno.writeTextFileSync(md, markdown);
  Deno.writeTextFileSync(
    `${RESULTS_DIR}${name}.json`,
    JSON.stringify(
      data,
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
      2,
    ) + "\n",
  );
  return md;
}
