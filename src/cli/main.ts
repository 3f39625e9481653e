/**
 * The `batpak` command-line tool: look inside a store, prove it intact,
 * follow its events, and run the correctness gates and the M37 contention
 * harness.
 *
 * ```sh
 * deno task cli inspect ./data        # events, entities, segments, sizes, open path
 * deno task cli verify ./data --json  # re-read every frame; exit 1 on problems
 * deno task cli tail ./data --prefix account: -n 20
 * deno task cli dump ./data --entity account:42
 * deno task cli compact ./data       # erase deleted and redacted payloads
 * deno task cli inspect 'postgres://app@db:5432/app?schema=shop'
 * deno task cli harness --seed 7
 * deno task cli gates
 * ```
 *
 * Every command takes `--help`. Bad input (a missing directory, a locked or
 * corrupt store, an unknown flag or command) prints one line on stderr and
 * exits non-zero: 1 when the command failed, 2 when the command line is
 * wrong. `inspect`, `verify`, `tail` and `dump` take a directory or a
 * `postgres://` URL (`?schema=NAME`) and never create a store: the
 * directory must already hold segment files, the schema a store. A relative
 * directory is resolved against `INIT_CWD` when set (`deno task` sets it to
 * where you typed the command). `--entity E` is exactly the entity `E`,
 * `--prefix P` every entity starting with `P`.
 *
 * @example Run a command in-process
 * ```ts
 * import { main } from "@seed/batpak/cli";
 * const exitCode = await main(["inspect", "--help"]);
 * console.log(exitCode); // 0
 * ```
 *
 * @module
 */

import { StoreError } from "../../mod.ts";
import { CliError, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./_args.ts";
import { type CliIo, processIo } from "./_output.ts";
import { compact } from "./compact.ts";
import { dump } from "./dump.ts";
import { gates } from "./gates.ts";
import { harness } from "./harness.ts";
import { inspect } from "./inspect.ts";
import { tail } from "./tail.ts";
import { verify } from "./verify.ts";

export type { CliIo } from "./_output.ts";

const COMMANDS: readonly Command[] = [inspect, verify, tail, dump, compact, harness, gates];

const COMMAND_NAMES = COMMANDS.map((c) => c.name).join(", ");

const HELP = `batpak: inspect, verify and follow batpak event stores

Usage: batpak <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join("\n")}

Run 'batpak <command> --help' for a command's arguments.
Exit codes: 0 ok, 1 the command failed or found a problem, 2 bad command line.
`;

/** One line, whatever the message holds. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

function debugWanted(): boolean {
  try {
    return Deno.env.get("BATPAK_DEBUG") !== undefined;
  } catch {
    return false; // no env permission
  }
}

function report(command: string, e: unknown, io: CliIo): number {
  const prefix = command === "" ? "batpak" : `batpak ${command}`;
  if (e instanceof Deno.errors.BrokenPipe) return EXIT_OK; // the reader stopped reading (| head)
  if (e instanceof UsageError) {
    io.err(`${prefix}: ${oneLine(e.message)} (see '${prefix} --help')\n`);
    return EXIT_USAGE;
  }
  const expected = e instanceof CliError || e instanceof StoreError ||
    e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound;
  const message = e instanceof Error ? e.message : String(e);
  if (!expected && debugWanted() && e instanceof Error) io.err(`${e.stack}\n`);
  io.err(
    `${prefix}: ${oneLine(message)}${
      expected ? "" : " (unexpected; set BATPAK_DEBUG=1 for a stack trace)"
    }\n`,
  );
  return EXIT_FAILURE;
}

/**
 * Run the CLI with `args` (without the program name) and resolve to the
 * exit code. Never throws: errors become one line on `io.err`.
 *
 * @example
 * ```ts
 * import { main } from "@seed/batpak/cli";
 * const lines: string[] = [];
 * const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t), errIsTerminal: false };
 * console.log(await main(["inspect", "/no/such/dir"], io)); // 1
 * console.log(lines[0]); // batpak inspect: no such directory: /no/such/dir
 * ```
 */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = args;
  try {
    if (name === undefined) {
      io.err(HELP);
      return EXIT_USAGE;
    }
    if (name === "--help" || name === "-h") {
      io.out(HELP);
      return EXIT_OK;
    }
    if (name === "help") {
      const command = COMMANDS.find((c) => c.name === rest[0]);
      io.out(command?.help ?? HELP);
      return EXIT_OK;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (command === undefined) {
      io.err(
        `batpak: unknown command '${name}' (commands: ${COMMAND_NAMES}; see 'batpak --help')\n`,
      );
      return EXIT_USAGE;
    }
    return await command.run(rest, io);
  } catch (e) {
    return report(name ?? "", e, io);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
