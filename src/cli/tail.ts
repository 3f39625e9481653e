/**
 * `batpak tail <dir>`: the last events of a store, optionally following new ones.
 *
 * @module
 */

import { Region, type StoredEvent, type StoreReader } from "../../mod.ts";
import { type Command, EXIT_OK, integerFlag, parseCommand } from "./_args.ts";
import { eventLine } from "./_event.ts";
import { type CliIo, toJson } from "./_output.ts";
import { openExisting } from "./_store.ts";

/** Events shown without `-n`. */
export const TAIL_EVENTS_DEFAULT = 10;
/** How often `--follow` looks for events another process appended, ms. */
export const FOLLOW_POLL_MS = 200;

const HELP = `Usage: batpak tail <dir> [--entity PREFIX] [-n N] [--follow] [--json]

Print the last events of the store in <dir>, oldest first, one per line:
  #<global sequence>  <time>  <entity> @ <scope>  seq <n>  kind 0xCTTT  <payload as JSON>
(kind: C = category nibble, TTT = 12-bit type, both hex).

Options:
  --entity PREFIX  only entities starting with PREFIX (an exact entity is its own prefix)
  -n, --lines N    how many events to show (default ${TAIL_EVENTS_DEFAULT}; 0 with --follow = only new ones)
  --follow         keep the store open and print events as they are appended,
                   until Ctrl-C (SIGINT) or SIGTERM
  --json           one JSON object per line (bigints as strings, bytes as { "$base64" })
  -h, --help       show this help

The store is opened read-only: tail takes no lock and changes nothing, so it
runs beside the application that writes the store. --follow checks for new
events every ${FOLLOW_POLL_MS} ms.

Exit codes: 0 ok, 1 the store cannot be opened, 2 bad command line.
`;

const TERMINATING_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** Resolve the last `n` events of `region` in global order. */
function lastEvents(store: StoreReader, region: Region, n: number, all: boolean): StoredEvent[] {
  if (n === 0) return [];
  const events = store.diagnostics().events;
  // Global sequences are gapless, so the last n of the whole log need no full query.
  const entries = all
    ? store.queryAfter(region, Math.max(0, events - n), n)
    : store.query(region).slice(-n);
  if (entries.length === 0) return [];
  return store.cursorGuaranteed(region, { after: entries[0].globalSequence - 1 })
    .pollBatch(entries.length);
}

/** The `tail` command. */
export const tail: Command = {
  name: "tail",
  summary: "the last events (--entity PREFIX, --follow for new ones)",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals, help } = parseCommand(args, {
      entity: { type: "string" },
      lines: { type: "string", short: "n" },
      follow: { type: "boolean" },
      json: { type: "boolean" },
    }, ["dir"]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const n = integerFlag("lines", values.lines) ?? TAIL_EVENTS_DEFAULT;
    const region = values.entity === undefined ? Region.all() : Region.entity(values.entity);
    const print = (e: StoredEvent) => io.out(values.json ? toJson(e) + "\n" : eventLine(e));
    const store = openExisting(positionals[0]);
    try {
      for (const e of lastEvents(store, region, n, values.entity === undefined)) print(e);
      if (!values.follow) return EXIT_OK;
      await followEvents(store, region, store.diagnostics().events, print);
      return EXIT_OK;
    } finally {
      store.close();
    }
  },
};

/**
 * Print events of `region` appended after `after` until SIGINT/SIGTERM
 * (or `signal`) stops it.
 */
export async function followEvents(
  store: StoreReader,
  region: Region,
  after: number,
  print: (event: StoredEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  signal?.addEventListener("abort", abort, { once: true });
  const installed: Deno.Signal[] = [];
  for (const sig of TERMINATING_SIGNALS) {
    try {
      Deno.addSignalListener(sig, abort);
      installed.push(sig);
    } catch { /* signal not supported on this platform */ }
  }
  // A read-only store learns of other processes' appends by refreshing; the subscription then
  // delivers them. (A writable store is always current and refresh() does nothing.)
  const poll = setInterval(() => {
    try {
      store.refresh();
    } catch (e) {
      console.error(`tail: ${(e as Error).message}`);
      stop.abort();
    }
  }, FOLLOW_POLL_MS);
  try {
    for await (const e of store.subscribe(region, { after, signal: stop.signal })) print(e);
  } finally {
    clearInterval(poll);
    for (const sig of installed) Deno.removeSignalListener(sig, abort);
    signal?.removeEventListener("abort", abort);
  }
}
