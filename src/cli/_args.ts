/**
 * Argument parsing for the CLI: `node:util` `parseArgs` in strict mode, with
 * its errors turned into one-line {@linkcode UsageError}s.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { CliIo } from "./_output.ts";

/** Exit code: success. */
export const EXIT_OK = 0;
/** Exit code: the command ran and found a problem (or the store could not be used). */
export const EXIT_FAILURE = 1;
/** Exit code: the command line itself is wrong. */
export const EXIT_USAGE = 2;

/** The command line is wrong (unknown flag, missing argument, bad value): exit code 2. */
export class UsageError extends Error {
  /** Build the error; `message` is shown as one line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The command ran but cannot go on (missing directory, not a store): exit code 1. */
export class CliError extends Error {
  /** Build the error; `message` is shown as one line. */
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** Every command accepts `--help` / `-h`. */
const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** Parsed flags and positionals of one command. */
export interface Parsed<T extends ParseArgsOptionsConfig> {
  /** Flag values, by long name. */
  values: { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string };
  /** Positional arguments. */
  positionals: string[];
  /** True when `--help` was given: print the help and do nothing else. */
  help: boolean;
}

/**
 * Parse `args` against `options` (strict: unknown flags are errors) and
 * check that between `min` and `max` positionals were given, named by
 * `positionalNames` in messages.
 */
export function parseCommand<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  positionalNames: readonly string[],
  min = positionalNames.length,
): Parsed<T> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, ...HELP_OPTION },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(describeParseError(e));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  const positionals = parsed.positionals;
  if (!help) {
    if (positionals.length < min) {
      throw new UsageError(`missing argument <${positionalNames[positionals.length]}>`);
    }
    if (positionals.length > positionalNames.length) {
      throw new UsageError(`unexpected argument '${positionals[positionalNames.length]}'`);
    }
  }
  return { values: values as Parsed<T>["values"], positionals, help };
}

/** `parseArgs` messages run on ("... To specify a positional argument ..."): keep the first sentence. */
function describeParseError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const first = message.split(/\.\s/)[0].replace(/\.$/, "");
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** An integer flag value in `0..max`, or a {@linkcode UsageError} naming the flag. */
export function integerFlag(
  name: string,
  value: string | undefined,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new UsageError(
      `option '--${name}' needs a non-negative integer up to ${max}, found '${value}'`,
    );
  }
  return Number(value);
}

/** One CLI command. */
export interface Command {
  /** Its name on the command line. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(args: string[], io: CliIo): number | Promise<number>;
}
