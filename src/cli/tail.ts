/**
 * `batpak tail <dir>`: the last events of a store, optionally following new ones.
 *
 * @module
 */

import type { Region, StoredEvent, StoreReader } from "../../mod.ts";
import type { PostgresStore } from "../postgres/mod.ts";
import { type Command, EXIT_OK, integerFlag, parseCommand } from "./_args.ts";
import { eventLine } from "./_event.ts";
import { type CliIo, toJson } from "./_output.ts";
import { regionOf, SELECT_HELP, SELECT_OPTIONS, type Selection, selection } from "./_select.ts";
import { closeOpened, openTarget, parseTarget, STORE_ARGUMENT_HELP } from "./_store.ts";

/** Events shown without `-n`. */
export const TAIL_EVENTS_DEFAULT = 10;
/** How often `--follow` looks for events another process appended, ms. */
export const FOLLOW_POLL_MS = 200;

const HELP =
  `Usage: batpak tail <store> [--entity ENTITY | --prefix PREFIX] [-n N] [--follow] [--json]

Print the last events of a store, oldest first, one per line:
  #<global sequence>  <time>  <entity> @ <scope>  seq <n>  kind 0xCTTT  <payload as JSON>
(kind: C = category nibble, TTT = 12-bit type, both hex).

${STORE_ARGUMENT_HELP}

Options:
${SELECT_HELP}
  -n, --lines N    how many events to show (default ${TAIL_EVENTS_DEFAULT}; 0 with --follow = only new ones)
  --follow         keep the store open and print events as they are appended,
                   until Ctrl-C (SIGINT) or SIGTERM
  --json           one JSON object per line (bigints as strings, bytes as { "$base64" })
  -h, --help       show this help

A directory is opened read-only: tail takes no lock and changes nothing, so it
runs beside the application that writes the store; --follow checks for new
events every ${FOLLOW_POLL_MS} ms. On PostgreSQL, --follow is a subscription
(woken by LISTEN/NOTIFY) that starts right after the last event shown, so no
event committed in between is missed.

Exit codes: 0 ok, 1 the store cannot be opened, 2 bad command line.
`;

const TERMINATING_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** The last `n` events of the selection in global order, from a store directory. */
function lastEvents(store: StoreReader, select: Selection, n: number): StoredEvent[] {
  if (n === 0) return [];
  if (select.kind === "entity") {
    return store.readStream(select.entity, { direction: "backwards", maxCount: n }).reverse();
  }
  const region = regionOf(select);
  const events = store.diagnostics().events;
  // Global sequences are gapless, so the last n of the whole log need no full query.
  const entries = select.kind === "all"
    ? store.queryAfter(region, Math.max(0, events - n), n)
    : store.query(region).slice(-n);
  if (entries.length === 0) return [];
  return store.cursorGuaranteed(region, { after: entries[0].globalSequence - 1 })
    .pollBatch(entries.length);
}

/**
 * The last `n` events of `region` on PostgreSQL, and the position to follow
 * from: the last event of the region even when `n` is 0, so a follow starts
 * where the read ended.
 */
async function lastPostgresEvents(
  store: PostgresStore,
  region: Region,
  n: number,
): Promise<{ events: StoredEvent[]; after: number }> {
  const events = await store.readLast(region, Math.max(1, n));
  return {
    events: events.slice(Math.max(0, events.length - n)),
    after: events.at(-1)?.globalSequence ?? 0,
  };
}

/** The `tail` command. */
export const tail: Command = {
  name: "tail",
  summary: "the last events (--entity ENTITY exact, --prefix PREFIX, --follow for new ones)",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals, help } = parseCommand(args, {
      ...SELECT_OPTIONS,
      lines: { type: "string", short: "n" },
      follow: { type: "boolean" },
      json: { type: "boolean" },
    }, ["store"]);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const n = integerFlag("lines", values.lines) ?? TAIL_EVENTS_DEFAULT;
    const select = selection(values);
    const region = regionOf(select);
    const opened = await openTarget(parseTarget(positionals[0]));
    const names = opened.kind === "dir" ? opened.store : undefined; // kind names (kinds.dat)
    const print = (e: StoredEvent) => io.out(values.json ? toJson(e) + "\n" : eventLine(e, names));
    try {
      let after: number;
      if (opened.kind === "dir") {
        for (const e of lastEvents(opened.store, select, n)) print(e);
        after = opened.store.diagnostics().events;
      } else {
        const last = await lastPostgresEvents(opened.store, region, n);
        for (const e of last.events) print(e);
        after = last.after;
      }
      if (values.follow) await followEvents(opened.store, region, after, print);
      return EXIT_OK;
    } finally {
      await closeOpened(opened);
    }
  },
};

/** What {@linkcode followEvents} needs of a store: a subscription, and `refresh` for a reader. */
export interface Followable {
  /** Events of the region after `after`, then live ones, until the signal aborts. */
  subscribe(
    region: Region,
    options?: { after?: number; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent>;
  /** A read-only store's way to see another process's appends (absent: the store is live). */
  refresh?(): number;
}

/**
 * Print events of `region` appended after `after` until SIGINT/SIGTERM
 * (or `signal`) stops it.
 */
export async function followEvents(
  store: Followable,
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
  // delivers them. (A writable store is always current and refresh() does nothing; a PostgreSQL
  // subscription wakes on NOTIFY and polls by itself.)
  const refresh = store.refresh?.bind(store);
  const poll = refresh === undefined ? undefined : setInterval(() => {
    try {
      refresh();
    } catch (e) {
      console.error(`tail: ${(e as Error).message}`);
      stop.abort();
    }
  }, FOLLOW_POLL_MS);
  try {
    for await (const e of store.subscribe(region, { after, signal: stop.signal })) print(e);
  } finally {
    if (poll !== undefined) clearInterval(poll);
    for (const sig of installed) Deno.removeSignalListener(sig, abort);
    signal?.removeEventListener("abort", abort);
  }
}
