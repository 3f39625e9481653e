/**
 * Output helpers shared by the CLI commands and the demo: where text goes,
 * a progress bar for stderr, number and size formatting, aligned tables, and
 * JSON that survives the payload types MessagePack can hold.
 *
 * @module
 */

/**
 * Where a command writes. Commands never touch `Deno.stdout`/`console` directly.
 *
 * @example Capture a command's output
 * ```ts
 * import { type CliIo, main } from "@seed/batpak/cli";
 * let out = "";
 * const io: CliIo = { out: (t) => (out += t), err: (t) => (out += t), errIsTerminal: false };
 * await main(["gates", "--help"], io);
 * console.log(out.split("\n")[0]); // Usage: batpak gates
 * ```
 */
export interface CliIo {
  /** Write text to standard output (no newline added). */
  out(text: string): void;
  /** Write text to standard error (no newline added). */
  err(text: string): void;
  /** True when stderr is a terminal: progress bars are drawn only then. */
  readonly errIsTerminal: boolean;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/** The process's real stdout and stderr. */
export function processIo(): CliIo {
  let terminal = false;
  try {
    terminal = Deno.stderr.isTerminal();
  } catch { /* not a terminal */ }
  return {
    out: (text) => writeAll(Deno.stdout, text),
    err: (text) => writeAll(Deno.stderr, text),
    errIsTerminal: terminal,
  };
}

/** Redraw the bar at most this often. */
const PROGRESS_REDRAW_MS = 80;
/** Width of the bar itself, in cells. */
const PROGRESS_BAR_CELLS = 30;

/**
 * A one-line progress bar on stderr, redrawn in place. Draws nothing when
 * stderr is not a terminal, so logs and pipes stay clean.
 */
export class ProgressBar {
  readonly #io: CliIo;
  readonly #label: string;
  #total: number;
  #started: number | undefined;
  #lastDraw = 0;
  #drawn = false;

  /** A bar for `total` units of work, labelled `label`. */
  constructor(io: CliIo, label: string, total: number) {
    this.#io = io;
    this.#label = label;
    this.#total = Math.max(1, total);
  }

  /** Report `done` units finished (of `total`, when the work grew). Timing starts at the first call. */
  update(done: number, total?: number): void {
    if (!this.#io.errIsTerminal) return;
    const now = performance.now();
    this.#started ??= now;
    if (total !== undefined) this.#total = Math.max(1, total);
    if (now - this.#lastDraw < PROGRESS_REDRAW_MS && done < this.#total) return;
    this.#lastDraw = now;
    const fraction = Math.min(1, done / this.#total);
    const cells = Math.round(fraction * PROGRESS_BAR_CELLS);
    const elapsedS = (now - this.#started) / 1000;
    const rate = elapsedS > 0 ? `${formatCount(Math.round(done / elapsedS))}/s` : "";
    this.#io.err(
      `\r${this.#label} [${"#".repeat(cells)}${"-".repeat(PROGRESS_BAR_CELLS - cells)}] ` +
        `${(fraction * 100).toFixed(0).padStart(3)}% ${formatCount(done)}/${
          formatCount(this.#total)
        } ${rate}\x1b[K`,
    );
    this.#drawn = true;
  }

  /** Erase the bar (the caller prints the outcome). */
  finish(): void {
    if (this.#drawn) this.#io.err("\r\x1b[K");
    this.#drawn = false;
  }
}

/** `1234567` → `"1,234,567"`. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
const BYTES_PER_UNIT = 1024;

/** `1536` → `"1.5 KiB"`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= BYTES_PER_UNIT && unit < BYTE_UNITS.length - 1) {
    value /= BYTES_PER_UNIT;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** Milliseconds, readable at any scale: `"0.42 ms"`, `"103 ms"`, `"2.51 s"`. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Rows of cells as left-aligned columns separated by two spaces, one line each. */
export function renderTable(rows: readonly (readonly string[])[], indent = ""): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    indent + row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
      .trimEnd() +
    "\n"
  ).join("");
}

/** Rows of cells as a Markdown table; the first row is the header. */
export function renderMarkdownTable(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows;
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |\n`;
  return line(head) + line(head.map(() => "---")) + body.map(line).join("");
}

/**
 * JSON for values decoded from MessagePack: bigints become decimal strings,
 * byte arrays become `{ "$base64": "..." }`, dates their ISO form.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, jsonReplacer, indent);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) {
    let binary = "";
    for (const b of value) binary += String.fromCharCode(b);
    return { $base64: btoa(binary) };
  }
  return value;
}
