/**
 * R3 and R7, operator damage: what a person (or a backup script, a sync tool,
 * a careless `rm`) does to the files of a store directory by hand, and what
 * the next `Store.open` must do about it. Real files on a real disk.
 *
 * The fixture store (`segmentMaxBytes` 2048): segments 000001–000004 sealed,
 * 000005 active; single appends, atomic batches, string and bigint
 * idempotency keys, a fenced scope (`orders`), a saved cursor (`projector`).
 * Built in two sessions: the first is closed (its `index.img` is kept as the
 * "older image"), the second appends a few more events inside 000005.
 * "Another store" has other entities and payload sizes; a "twin store" is
 * built by the same code, so its segments have the same frame layout (same
 * offsets and lengths) with other ids, timestamps and hashes — only the
 * CRCs, the hash chain or a store identity can tell them apart.
 *
 * Stores (the state the damage is done to):
 *
 * | store                  | what is in the directory                                                  |
 * | ---------------------- | ------------------------------------------------------------------------- |
 * | `closed`               | closed cleanly: segments trimmed, `index.img` covers every event          |
 * | `closed+ckpt`          | `closed` plus an `index.ckpt` covering the first session (ends in 000005) |
 * | `ckpt only`            | `closed+ckpt` without `index.img`                                         |
 * | `crashed`              | copied after the last sync, never closed: 000005 keeps its zeroed         |
 * |                        | preallocation; `index.img` is the first session's (covers less)           |
 * | `crashed, no sidecars` | `crashed` without `index.img`: nothing but the log is left as evidence    |
 *
 * Expected outcomes:
 *
 * - **fails closed**: both a writable and a `readOnly` open throw
 *   `CorruptSegmentError` whose `file` names the damaged file, with an offset
 *   in the plausible range, and neither open changed a byte on disk.
 * - **opens whole**: a `readOnly` open, a writable open and a second
 *   writable open all return every original event byte-identical (id,
 *   entity, scope, kind, sequences, timestamp, links, payload, hashes),
 *   `verify().ok`, the saved cursor, the fence and an idempotent retry come
 *   back, and `openReport.rejectedSidecars` names the damaged sidecar.
 * - **locked**: a second writer, in this process and in another one, gets
 *   `StoreLockedError`.
 * - **typed error (X)**: the writable open throws the `StoreError` subclass
 *   X — never a raw `Error` or a Deno error.
 * - **opens, shorter log (undetectable)**: no evidence of the lost events is
 *   left anywhere (R3's exception); the open returns an exact prefix of the
 *   log, verify clean.
 *
 * R3: a replaced, truncated or missing segment fails closed — a sidecar that
 * records more than the log holds is evidence, so a missing or cut LAST
 * segment fails closed too while any sidecar vouches for it. Damaged or
 * missing sidecars are only an optimisation. R7: no second writer, even when
 * `LOCK` is deleted by hand.
 *
 * The chmod rows need a user that permissions apply to: as root they run the
 * probe (`fixtures/operator_damage/child.ts`) as `nobody` via `setpriv`,
 * with a readable copy of the Deno binary and DENO_DIR.
 *
 * `OPDMG_VERBOSE=1 deno test -A tests/system/operator_damage_test.ts` prints what
 * every open did, passing rows included.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { Coordinate, EventKind, type Fence, Store, StoreLockedError } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { loadSidecar, saveSidecar } from "../../src/index/sidecar.ts";
import {
  dumpStore,
  type Opened,
  probe,
  type ProbeResult,
  type Refused,
  SEGMENT_MAX_BYTES,
  type Semantics,
  type SemanticsSpec,
} from "../fixtures/operator_damage/probe.ts";

// ================================================================== the table

type Target =
  | "no damage" // control rows
  | "first sealed segment" // 000001.fbat
  | "middle sealed segment" // 000003.fbat
  | "last sealed segment" // 000004.fbat
  | "active segment" // 000005.fbat, the last one
  | "index.img"
  | "index.ckpt"
  | "both sidecars"
  | "LOCK"
  | "leftover *.tmp"
  | "stray unknown file"
  | "data directory";

type Variant = "closed" | "closed+ckpt" | "ckpt only" | "crashed" | "crashed, no sidecars";

type Expected =
  | "fails closed"
  | "opens whole"
  | "locked"
  | "opens, shorter log (undetectable)"
  | `typed error (${string})`;

/** [what, store, action, expected, why] */
type Row = readonly [Target, Variant, string, Expected, string?];

// deno-fmt-ignore
const TABLE: readonly Row[] = [
  // ---- controls: the undamaged stores open whole
  ["no damage",             "closed",               "none",                                      "opens whole"],
  ["no damage",             "closed+ckpt",          "none",                                      "opens whole"],
  ["no damage",             "ckpt only",            "none",                                      "opens whole"],
  ["no damage",             "crashed",              "none",                                      "opens whole"],
  ["no damage",             "crashed, no sidecars", "none",                                      "opens whole"],

  // ---- sealed segments: every loss or alteration fails closed, image or not
  ["first sealed segment",  "closed",               "delete",                                    "fails closed"],
  ["first sealed segment",  "crashed, no sidecars", "delete",                                    "fails closed"],
  ["first sealed segment",  "closed",               "truncate to 0",                             "fails closed"],
  ["first sealed segment",  "closed",               "truncate mid-frame",                        "fails closed"],
  ["first sealed segment",  "crashed, no sidecars", "truncate mid-frame",                        "fails closed"],
  ["first sealed segment",  "closed",               "append garbage",                            "fails closed"],
  ["first sealed segment",  "closed",               "replace with another store's",              "fails closed"],
  ["first sealed segment",  "crashed, no sidecars", "replace with another store's",              "fails closed"],
  ["first sealed segment",  "crashed, no sidecars", "replace with a twin store's",               "fails closed"],

  ["middle sealed segment", "closed",               "delete",                                    "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "delete",                                    "fails closed"],
  ["middle sealed segment", "closed",               "truncate to 0",                             "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "truncate to 0",                             "fails closed"],
  ["middle sealed segment", "closed",               "truncate mid-frame",                        "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "truncate mid-frame",                        "fails closed"],
  ["middle sealed segment", "ckpt only",            "truncate mid-frame",                        "fails closed"],
  ["middle sealed segment", "closed",               "truncate to the header",                    "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "truncate to the header",                    "fails closed"],
  ["middle sealed segment", "closed",               "append garbage",                            "fails closed",                                  "sealed segments end at their last frame"],
  ["middle sealed segment", "crashed, no sidecars", "append garbage",                            "fails closed"],
  ["middle sealed segment", "closed",               "append zeros",                              "fails closed",                                  "sealing cuts the preallocation"],
  ["middle sealed segment", "crashed, no sidecars", "append zeros",                              "fails closed"],
  ["middle sealed segment", "closed",               "replace with another store's",              "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "replace with another store's",              "fails closed"],
  ["middle sealed segment", "closed",               "replace with a twin store's",               "fails closed",                                  "same frame layout, other events"],
  ["middle sealed segment", "crashed, no sidecars", "replace with a twin store's",               "fails closed"],
  ["middle sealed segment", "closed",               "replace with an older copy",                "fails closed",                                  "copied while it was active"],
  ["middle sealed segment", "crashed, no sidecars", "replace with an older copy",                "fails closed"],
  ["middle sealed segment", "closed",               "swap with the next segment",                "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "swap with the next segment",                "fails closed"],
  ["middle sealed segment", "closed",               "rename to a 7-digit name",                  "fails closed"],
  ["middle sealed segment", "crashed, no sidecars", "rename to a 7-digit name",                  "fails closed"],
  ["middle sealed segment", "closed",               "chmod 0444",                                "opens whole",                                   "sealed segments are only read"],
  ["middle sealed segment", "closed",               "chmod 0000",                                "typed error (IoError)",                         "part of the log is unreadable"],
  ["middle sealed segment", "crashed, no sidecars", "chmod 0000",                                "typed error (IoError)"],

  ["last sealed segment",   "closed",               "delete",                                    "fails closed"],
  ["last sealed segment",   "crashed, no sidecars", "delete",                                    "fails closed"],
  ["last sealed segment",   "closed",               "truncate to the header",                    "fails closed"],
  ["last sealed segment",   "crashed, no sidecars", "truncate to the header",                    "fails closed"],
  ["last sealed segment",   "closed",               "append zeros",                              "fails closed"],
  ["last sealed segment",   "closed",               "swap with the next segment",                "fails closed",                                  "swaps it with the active one"],
  ["last sealed segment",   "crashed, no sidecars", "swap with the next segment",                "fails closed"],

  // ---- the active (last) segment: a sidecar that records it is evidence
  ["active segment",        "closed",               "delete",                                    "fails closed",                                  "index.img records 000005"],
  ["active segment",        "closed+ckpt",          "delete",                                    "fails closed"],
  ["active segment",        "ckpt only",            "delete",                                    "fails closed",                                  "index.ckpt records 000005"],
  ["active segment",        "crashed",              "delete",                                    "fails closed",                                  "the older index.img records 000005"],
  ["active segment",        "crashed, no sidecars", "delete",                                    "opens, shorter log (undetectable)",             "no evidence left: a crash right after sealing 000004 looks the same"],
  ["active segment",        "closed",               "truncate to 0",                             "fails closed"],
  ["active segment",        "crashed, no sidecars", "truncate to 0",                             "opens, shorter log (undetectable)",             "what a rotation cut by a crash leaves"],
  ["active segment",        "closed",               "truncate mid-frame",                        "fails closed",                                  "index.img covers the cut frames"],
  ["active segment",        "crashed, no sidecars", "truncate mid-frame",                        "opens, shorter log (undetectable)",             "a torn tail"],
  ["active segment",        "closed",               "truncate to the header",                    "fails closed"],
  ["active segment",        "ckpt only",            "truncate to the header",                    "fails closed",                                  "index.ckpt covers frames of 000005"],
  ["active segment",        "crashed",              "truncate to the header",                    "fails closed",                                  "the older index.img covers frames of 000005"],
  ["active segment",        "crashed, no sidecars", "truncate to the header",                    "opens, shorter log (undetectable)"],
  ["active segment",        "closed",               "append garbage",                            "opens whole",                                   "a torn write past the last frame: cut back (readOnly: read around, and verify clean)"],
  ["active segment",        "crashed",              "append garbage",                            "opens whole"],
  ["active segment",        "crashed, no sidecars", "append garbage",                            "opens whole"],
  ["active segment",        "closed",               "append zeros",                              "opens whole",                                   "zeros are preallocation"],
  ["active segment",        "crashed",              "append zeros",                              "opens whole"],
  ["active segment",        "closed",               "replace with another store's",              "fails closed"],
  ["active segment",        "crashed, no sidecars", "replace with another store's",              "fails closed"],
  ["active segment",        "closed",               "replace with a twin store's",               "fails closed"],
  ["active segment",        "crashed, no sidecars", "replace with a twin store's",               "fails closed"],
  ["active segment",        "closed",               "replace with an older copy",                "fails closed",                                  "index.img covers more"],
  ["active segment",        "crashed, no sidecars", "replace with an older copy",                "opens, shorter log (undetectable)"],
  ["active segment",        "closed",               "rename to a 7-digit name",                  "fails closed"],
  ["active segment",        "crashed, no sidecars", "rename to a 7-digit name",                  "fails closed"],
  ["active segment",        "closed",               "duplicate under the next number",           "fails closed"],
  ["active segment",        "crashed, no sidecars", "duplicate under the next number",           "fails closed"],
  ["active segment",        "closed",               "chmod 0444",                                "typed error (IoError)",                         "the writer needs it writable"],
  ["active segment",        "closed",               "chmod 0000",                                "typed error (IoError)"],

  // ---- sidecars: only an optimisation; damage is rejected and reported
  ["index.img",             "closed",               "delete",                                    "opens whole"],
  ["index.img",             "closed",               "truncate to 0",                             "opens whole"],
  ["index.img",             "closed",               "truncate mid-frame",                        "opens whole",                                   "cut in half"],
  ["index.img",             "closed",               "truncate to the header",                    "opens whole"],
  ["index.img",             "closed",               "append garbage",                            "opens whole"],
  ["index.img",             "closed",               "append zeros",                              "opens whole"],
  ["index.img",             "closed",               "replace with another store's",              "opens whole"],
  ["index.img",             "closed",               "replace with a twin store's",               "opens whole",                                   "same layout: only the frame CRCs tell"],
  ["index.img",             "closed",               "replace with an older copy",                "opens whole",                                   "still true of the log: restored, the rest scanned"],
  ["index.img",             "closed+ckpt",          "append garbage",                            "opens whole",                                   "falls back to index.ckpt"],
  ["index.img",             "closed",               "chmod 0444",                                "opens whole"],
  ["index.img",             "closed",               "chmod 0000",                                "opens whole",                                   "unreadable: rejected"],
  ["index.ckpt",            "ckpt only",            "delete",                                    "opens whole"],
  ["index.ckpt",            "ckpt only",            "truncate to 0",                             "opens whole"],
  ["index.ckpt",            "ckpt only",            "truncate mid-frame",                        "opens whole",                                   "cut in half"],
  ["index.ckpt",            "ckpt only",            "append garbage",                            "opens whole"],
  ["index.ckpt",            "ckpt only",            "replace with another store's",              "opens whole"],
  ["both sidecars",         "closed+ckpt",          "append garbage",                            "opens whole"],
  ["both sidecars",         "closed+ckpt",          "replace with another store's",              "opens whole"],

  // ---- the lock (R7)
  ["LOCK",                  "closed",               "delete",                                    "opens whole"],
  ["LOCK",                  "closed",               "append garbage",                            "opens whole",                                   "its content means nothing"],
  ["LOCK",                  "closed",               "stale after a SIGKILLed holder",            "opens whole"],
  ["LOCK",                  "closed",               "untouched while a child holds it",          "locked"],
  ["LOCK",                  "closed",               "delete while a child holds it and appends", "locked"],

  // ---- leftovers and strangers in the directory
  ["leftover *.tmp",        "closed",               "add index.img.tmp (half an image)",         "opens whole"],
  ["leftover *.tmp",        "crashed",              "add index.img.tmp (half an image)",         "opens whole"],
  ["leftover *.tmp",        "closed",               "add index.ckpt.tmp (empty)",                "opens whole"],
  ["stray unknown file",    "closed",               "add notes.txt",                             "opens whole",                                   "and it is left alone"],
  ["stray unknown file",    "closed",               "add .DS_Store",                             "opens whole"],
  ["stray unknown file",    "closed",               "add 000003.fbat.bak (a copy)",              "opens whole"],
  ["stray unknown file",    "closed",               "add 12345.fbat (a copy of 000001.fbat)",    "opens whole",                                   "five digits: not a segment name"],
  ["stray unknown file",    "closed",               "add 0000001.fbat (a copy of 000001.fbat)",  "fails closed",                                  "named like a segment, not as the store names them: a segment renamed by hand looks the same"],
  ["stray unknown file",    "closed",               "add archive/ holding a segment copy",       "opens whole"],
  ["stray unknown file",    "closed",               "add a directory named 000006.fbat",         "typed error (IoError or CorruptSegmentError)"],

  // ---- the data directory itself
  ["data directory",        "closed",               "delete",                                    "opens, shorter log (undetectable)",             "nothing left: a new, empty store"],
  ["data directory",        "closed",               "replace with a regular file",               "typed error (InvalidArgumentError)"],
  ["data directory",        "closed",               "chmod 0444",                                "typed error (IoError)"],
  ["data directory",        "closed",               "chmod 0000",                                "typed error (IoError)"],
  ["data directory",        "closed",               "rename while a child holds it",             "locked",                                        "the lock moves with the directory"],
];

// ============================================================ the fixture

const FIRST = 1;
const MIDDLE = 3;
const LAST_SEALED = 4;
const ACTIVE = 5;
const IMG = "index.img";
const CKPT = "index.ckpt";
const LOCK = "LOCK";
const SEGMENT_HEADER_BYTES = 16;
const SIDECAR_HEADER_BYTES = 56;
const FRAME_HEADER_BYTES = 12;
const LEASE_MS = 3_600_000;

const KIND_A = EventKind.custom(0x1, 1);
const KIND_B = EventKind.custom(0x2, 7);
const KIND_ORDER = EventKind.custom(0x4, 2);

function seg(n: number): string {
  return `${String(n).padStart(6, "0")}.fbat`;
}

const TARGET_FILE: Partial<Record<Target, string>> = {
  "first sealed segment": seg(FIRST),
  "middle sealed segment": seg(MIDDLE),
  "last sealed segment": seg(LAST_SEALED),
  "active segment": seg(ACTIVE),
  "index.img": IMG,
  "index.ckpt": CKPT,
  "LOCK": LOCK,
};

type Files = Map<string, Uint8Array>;

interface Fixture {
  variants: Record<Variant, Files>;
  /** Every event (system ones included), one canonical line each. */
  pristine: string[];
  spec: SemanticsSpec;
  semantics: Semantics;
  /** Snapshots of each segment taken while it was the active one. */
  history: Map<string, Uint8Array[]>;
  /** The first session's index image. */
  olderImage: Uint8Array;
  /** Another store's files, closed. */
  other: Files;
  /** A second store built by the same code: other ids and hashes, the same frame layout. */
  twin: Files;
}

function readDirFiles(dir: string): Files {
  const files: Files = new Map();
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) files.set(e.name, Deno.readFileSync(`${dir}/${e.name}`));
  }
  return files;
}

/** The same index, coverage, system state and segment table as `image`, in the checkpoint kind. */
function asCheckpoint(image: Uint8Array): Uint8Array {
  const fs = new MemoryFileSystem();
  fs.writeFile("/x/index.img", image);
  const loaded = loadSidecar(fs, "/x/index.img", "image");
  if (typeof loaded === "string") throw new Error(`the fixture's image: ${loaded}`);
  saveSidecar(fs, "/x", "checkpoint", loaded.index, loaded.coverage, loaded.system, loaded.sealed);
  return fs.readFile("/x/index.ckpt");
}

function step(store: Store, i: number, fence: Fence, last: { id?: string }): void {
  const acct = new Coordinate(`acct:${i % 4}`, "bank");
  let r;
  switch (i % 6) {
    case 0:
      r = store.append(acct, KIND_A, { i, note: "deposit", amount: i * 10 });
      break;
    case 1:
      r = store.append(acct, KIND_B, { i, tags: ["x", "y"], at: new Date(1_700_000_000_000 + i) }, {
        idempotencyKey: `tx-${i}`,
      });
      break;
    case 2:
      r = store.appendBatch([
        { coord: acct, kind: KIND_A, payload: { i, b: 0 } },
        {
          coord: new Coordinate(`acct:${(i + 1) % 4}`, "bank"),
          kind: KIND_B,
          payload: { i, b: 1 },
          causation: { priorItem: 0 },
        },
        { coord: acct, kind: KIND_A, payload: { i, b: 2, note: "é日本" } },
      ]).at(-1);
      break;
    case 3:
      r = store.append(new Coordinate(`order:${i}`, "orders"), KIND_ORDER, {
        i,
        big: 2n ** 60n + BigInt(i),
      }, {
        fence,
      });
      break;
    case 4:
      r = store.append(acct, KIND_A, { i, bytes: new Uint8Array([i & 0xff, 255, 0, 7]) }, {
        idempotencyKey: BigInt(i) * 1_000_003n,
      });
      break;
    default:
      r = store.append(acct, KIND_A, { i, nested: { deep: [1, { two: null }] } }, {
        correlationId: last.id,
      });
  }
  last.id = r!.eventId;
}

function buildOther(): Files {
  const dir = Deno.makeTempDirSync({ prefix: "opdmg-other-" });
  try {
    const store = Store.open({ dataDir: dir, segmentMaxBytes: SEGMENT_MAX_BYTES });
    for (let i = 0; store.diagnostics().segments < ACTIVE + 1 || i < 10; i++) {
      store.append(new Coordinate(`other:${i % 3}`, "elsewhere"), KIND_A, {
        i,
        pad: "z".repeat(40 + (i % 5) * 17),
      });
    }
    store.close();
    return readDirFiles(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

interface Built {
  closed: Files;
  crashed: Files;
  history: Map<string, Uint8Array[]>;
  olderImage: Uint8Array;
  pristine: string[];
  spec: SemanticsSpec;
  semantics: Semantics;
}

/** The two sessions of the fixture store; run twice, they give two stores of one layout. */
function buildStore(): Built {
  const dir = Deno.makeTempDirSync({ prefix: "opdmg-build-" });
  try {
    const history = new Map<string, Uint8Array[]>();
    const snap = (store: Store) => {
      store.sync();
      const name = seg(store.diagnostics().segments);
      const list = history.get(name) ?? [];
      list.push(Deno.readFileSync(`${dir}/${name}`));
      history.set(name, list);
    };
    const last: { id?: string } = {};
    // Session 1: fill 000001–000004 and start 000005.
    let store = Store.open({ dataDir: dir, segmentMaxBytes: SEGMENT_MAX_BYTES });
    const fence = store.ownership("orders").claim("worker-a", LEASE_MS);
    let i = 0;
    let inActive = 0;
    let keyed: SemanticsSpec["keyed"] | undefined;
    while (inActive < 2) {
      step(store, i, fence, last);
      if (i === 1) {
        const e = store.stream("acct:1").at(-1)!;
        keyed = { entity: e.entity, scope: e.scope, kind: e.kind, key: "tx-1", eventId: e.eventId };
      }
      if (i === 7) store.saveCursor("projector", 5);
      snap(store);
      i++;
      if (store.diagnostics().segments === ACTIVE) inActive++;
      assert.ok(store.diagnostics().segments <= ACTIVE, "session 1 overflowed 000005");
    }
    store.close();
    const olderImage = Deno.readFileSync(`${dir}/${IMG}`);
    // Session 2: a few more events inside 000005.
    store = Store.open({ dataDir: dir, segmentMaxBytes: SEGMENT_MAX_BYTES });
    assert.equal(store.diagnostics().openReport.path, "image");
    step(store, i++, fence, last);
    store.appendBatch([
      { coord: new Coordinate("acct:9", "bank"), kind: KIND_A, payload: { s: 2, b: 0 } },
      { coord: new Coordinate("acct:9", "bank"), kind: KIND_B, payload: { s: 2, b: 1 } },
    ]);
    store.saveCursor("projector", store.diagnostics().events);
    snap(store);
    assert.equal(store.diagnostics().segments, ACTIVE, "session 2 stays inside 000005");
    const pristine = dumpStore(store);
    const spec: SemanticsSpec = { cursorName: "projector", fenceScope: "orders", keyed: keyed! };
    const semantics: Semantics = {
      cursor: store.loadCursor("projector") ?? null,
      fence: JSON.stringify(store.ownership("orders").current() ?? null),
      retry: JSON.stringify({ eventId: keyed!.eventId, duplicate: true }),
    };
    // The crash: everything is synced, nothing is closed.
    const crashed = readDirFiles(dir);
    store.close();
    const closed = readDirFiles(dir);
    assert.ok(closed.has(IMG) && crashed.has(IMG));
    assert.ok(!pristine.some((l) => l.startsWith("ERROR")));
    return { closed, crashed, history, olderImage, pristine, spec, semantics };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function buildFixture(): Fixture {
  const { closed, crashed, history, olderImage, pristine, spec, semantics } = buildStore();
  const withCkpt = new Map(closed).set(CKPT, asCheckpoint(olderImage));
  const ckptOnly = new Map(withCkpt);
  ckptOnly.delete(IMG);
  const crashedBare = new Map(crashed);
  crashedBare.delete(IMG);
  return {
    variants: {
      "closed": closed,
      "closed+ckpt": withCkpt,
      "ckpt only": ckptOnly,
      "crashed": crashed,
      "crashed, no sidecars": crashedBare,
    },
    pristine,
    spec,
    semantics,
    history,
    olderImage,
    other: buildOther(),
    twin: buildStore().closed,
  };
}

let fixture: Fixture | undefined;
function fx(): Fixture {
  return fixture ??= buildFixture();
}

// ============================================================ running as nobody

const CHILD = fileURLToPath(new URL("../fixtures/operator_damage/child.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const NOBODY_UID = 65534;
const NOBODY_GID = 65534;

function commandWorks(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const IS_ROOT = Deno.build.os !== "windows" && Deno.uid() === 0;
/** Why the chmod rows cannot run, or undefined when they can. */
const CHMOD_SKIP: string | undefined = Deno.build.os === "windows"
  ? "no POSIX permissions on Windows"
  : IS_ROOT && !commandWorks("setpriv", ["--version"])
  ? "running as root without setpriv: chmod would not restrict the store"
  : undefined;
if (CHMOD_SKIP) console.log(`operator damage: chmod rows skipped (${CHMOD_SKIP})`);

interface NobodyEnv {
  home: string;
  deno: string;
  denoDir: string;
}
let nobodyEnv: NobodyEnv | undefined;

/** A Deno binary and DENO_DIR that `nobody` can read (root's are under a 0700 home). */
function nobody(): NobodyEnv {
  if (nobodyEnv) return nobodyEnv;
  const home = Deno.makeTempDirSync({ prefix: "opdmg-nobody-" });
  Deno.chmodSync(home, 0o755);
  const deno = `${home}/deno`;
  try {
    Deno.linkSync(Deno.execPath(), deno);
  } catch {
    Deno.copyFileSync(Deno.execPath(), deno);
  }
  Deno.chmodSync(deno, 0o755);
  const source = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const denoDir = `${home}/deno_dir`;
  assert.ok(commandWorks("cp", ["-a", source, denoDir]), `cp -a ${source} ${denoDir}`);
  assert.ok(commandWorks("chown", ["-R", `${NOBODY_UID}:${NOBODY_GID}`, denoDir]));
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(home, { recursive: true });
    } catch { /* best effort */ }
  });
  return nobodyEnv = { home, deno, denoDir };
}

function chownTree(path: string): void {
  Deno.chownSync(path, NOBODY_UID, NOBODY_GID);
  if (Deno.statSync(path).isDirectory) {
    for (const e of Deno.readDirSync(path)) chownTree(`${path}/${e.name}`);
  }
}

/** Runs probe steps against a directory: here, or in a child process (as nobody). */
type Runner = (dir: string, steps: Parameters<typeof probe>[1][]) => Promise<ProbeResult[]>;

const inProcess: Runner = (dir, steps) => Promise.resolve(steps.map((s) => probe(dir, s)));

async function inChild(dir: string, steps: unknown[], asNobody: boolean): Promise<ProbeResult[]> {
  const args = ["run", "-A", "--config", CONFIG, CHILD, "probe", dir, JSON.stringify(steps)];
  let cmd: Deno.Command;
  if (asNobody) {
    const env = nobody();
    cmd = new Deno.Command("setpriv", {
      args: [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "env",
        `DENO_DIR=${env.denoDir}`,
        `HOME=${env.home}`,
        env.deno,
        ...args,
      ],
      cwd: env.home,
      stdout: "piped",
      stderr: "piped",
    });
  } else {
    cmd = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" });
  }
  const out = await cmd.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const err = new TextDecoder().decode(out.stderr).trim();
  assert.ok(out.success && text !== "", `probe child failed (${out.code}): ${err.slice(0, 800)}`);
  return JSON.parse(text.split("\n").at(-1)!) as ProbeResult[];
}

const asNobody: Runner = (dir, steps) =>
  IS_ROOT ? inChild(dir, steps, true) : inProcess(dir, steps);

/** `OPDMG_VERBOSE=1`: print what every open did, passing rows included. */
const VERBOSE = Deno.env.get("OPDMG_VERBOSE") === "1";

function logged(run: Runner): Runner {
  if (!VERBOSE) return run;
  return async (dir, steps) => {
    const results = await run(dir, steps);
    for (const r of results) {
      console.log(
        `  ${label(r)}: ${r.opened ? describeOpen(r, fx().pristine) : describeRefusal(r)}`,
      );
    }
    return results;
  };
}

// ============================================================ holders (R7)

interface Holder {
  child: Deno.ChildProcess;
  /** Close stdin, wait for the child; its remaining stdout. */
  stop(): Promise<string>;
  kill(): Promise<void>;
}

async function hold(dir: string, append: boolean): Promise<Holder> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, CHILD, "hold", dir, append ? "append" : "idle"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  while (!/OPENED|ERROR/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  clearTimeout(timer);
  const rest = async (): Promise<string> => {
    let more = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      more += value;
    }
    return more;
  };
  if (!seen.includes("OPENED")) {
    await child.stdin.close().catch(() => {});
    await child.status;
    throw new Error(`holder did not open: ${seen} ${await stderr}`);
  }
  return {
    child,
    async stop() {
      await child.stdin.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const out = await rest();
      await child.status;
      clearTimeout(timer);
      await stderr;
      return out.trim();
    },
    async kill() {
      child.kill("SIGKILL");
      await child.status;
      await rest();
      await child.stdin.close().catch(() => {});
      await stderr;
    },
  };
}

// ============================================================ damage

interface Damage {
  /** Names a `CorruptSegmentError` may give as `file`. */
  files: string[];
  /** Plausible `offset` range, inclusive. */
  offset: [number, number];
  /** Sidecars that must appear in `openReport.rejectedSidecars`. */
  sidecars: string[];
  /** Stray paths that must be left byte-identical. */
  keep: Map<string, Uint8Array>;
  /** Where to open (the directory may have moved). */
  dataDir: string;
}

/** Past the last non-zero byte. */
function dataEnd(b: Uint8Array): number {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return end;
}

/** Frame starts and total lengths of a segment (documented frame header: length at +4). */
function frames(b: Uint8Array): { start: number; length: number }[] {
  const out: { start: number; length: number }[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = SEGMENT_HEADER_BYTES; at + FRAME_HEADER_BYTES <= b.length;) {
    const body = dv.getUint32(at + 4, true);
    if (body === 0 && dv.getUint32(at, true) === 0) break; // preallocation
    out.push({ start: at, length: FRAME_HEADER_BYTES + body });
    at += FRAME_HEADER_BYTES + body;
  }
  return out;
}

/** Deterministic garbage (xorshift32), never a valid frame. */
function garbage(n: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function segmentNumber(name: string): number {
  return Number(name.slice(0, 6));
}

function isSegment(name: string): boolean {
  return /^\d{6}\.fbat$/.test(name);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function append(path: string, bytes: Uint8Array): void {
  const f = Deno.openSync(path, { append: true, create: true });
  try {
    f.writeSync(bytes);
  } finally {
    f.close();
  }
}

function damage(target: Target, action: string, dir: string, f: Fixture): Damage {
  const d: Damage = { files: [], offset: [0, 0], sidecars: [], keep: new Map(), dataDir: dir };
  if (target === "no damage") return d;
  if (target === "leftover *.tmp" || target === "stray unknown file") {
    return addStray(action, dir, d);
  }
  if (target === "data directory") {
    if (action === "delete") Deno.removeSync(dir, { recursive: true });
    else if (action === "replace with a regular file") {
      Deno.removeSync(dir, { recursive: true });
      Deno.writeFileSync(dir, new TextEncoder().encode("not a directory\n"));
    } else if (action.startsWith("chmod")) {
      if (IS_ROOT) chownTree(dir);
      Deno.chmodSync(dir, action === "chmod 0444" ? 0o444 : 0o000);
    } else throw new Error(`unknown action ${action}`);
    return d;
  }
  const names = target === "both sidecars" ? [IMG, CKPT] : [TARGET_FILE[target]!];
  for (const name of names) damageFile(name, action, dir, f, d);
  return d;
}

function damageFile(name: string, action: string, dir: string, f: Fixture, d: Damage): void {
  const path = `${dir}/${name}`;
  const present = exists(path);
  const before = present ? Deno.readFileSync(path) : new Uint8Array();
  const segment = isSegment(name);
  const sidecar = name === IMG || name === CKPT;
  d.files.push(name);
  // A deleted, read-only or older-but-true sidecar is not damage; everything else must be rejected.
  const harmless = ["delete", "chmod 0444", "replace with an older copy"];
  if (sidecar && !harmless.includes(action)) d.sidecars.push(name);
  const cut = (size: number) => {
    Deno.truncateSync(path, size);
    return size;
  };
  switch (action) {
    case "delete":
      if (present) Deno.removeSync(path);
      d.offset = [0, 0];
      break;
    case "truncate to 0":
      if (present) cut(0);
      d.offset = [0, 0];
      break;
    case "truncate mid-frame": {
      if (segment) {
        const fr = frames(before);
        const mid = fr[Math.floor(fr.length / 2)];
        const at = cut(mid.start + Math.floor(mid.length / 2));
        d.offset = [SEGMENT_HEADER_BYTES, at];
      } else cut(Math.floor(before.length / 2));
      break;
    }
    case "truncate to the header":
      cut(segment ? SEGMENT_HEADER_BYTES : SIDECAR_HEADER_BYTES);
      d.offset = [0, SEGMENT_HEADER_BYTES];
      break;
    case "append garbage":
    case "append zeros": {
      const extra = action === "append garbage" ? garbage(64) : new Uint8Array(1024);
      append(path, extra);
      d.offset = [dataEnd(before), before.length + extra.length];
      break;
    }
    case "replace with another store's":
    case "replace with a twin store's": {
      const from = action === "replace with another store's" ? f.other : f.twin;
      const other = name === CKPT ? asCheckpoint(from.get(IMG)!) : from.get(name);
      assert.ok(other, `the other store has no ${name}`);
      Deno.writeFileSync(path, other);
      d.offset = [0, other.length];
      // The first segment has nothing before it to disagree with: a foreign 000001 shows at
      // the first event of 000002 (its global sequence or hash chain), and the error names
      // that boundary. (A store identity in the segment header would name 000001: format v2.)
      if (name === "000001.fbat") d.files.push("000002.fbat");
      break;
    }
    case "replace with an older copy": {
      let older: Uint8Array;
      if (name === IMG) older = f.olderImage;
      else {
        const copies = f.history.get(name)!;
        older = copies[Math.floor((copies.length - 1) / 2)];
      }
      assert.ok(dataEnd(older) < dataEnd(before), `the older copy of ${name} holds less`);
      Deno.writeFileSync(path, older);
      d.offset = [SEGMENT_HEADER_BYTES, older.length];
      break;
    }
    case "swap with the next segment": {
      const next = seg(segmentNumber(name) + 1);
      const other = Deno.readFileSync(`${dir}/${next}`);
      Deno.writeFileSync(path, other);
      Deno.writeFileSync(`${dir}/${next}`, before);
      d.files.push(next);
      d.offset = [0, SEGMENT_HEADER_BYTES];
      break;
    }
    case "rename to a 7-digit name":
      Deno.renameSync(path, `${dir}/0${name}`);
      d.files.push(`0${name}`);
      d.offset = [0, SEGMENT_HEADER_BYTES];
      break;
    case "duplicate under the next number": {
      const next = seg(segmentNumber(name) + 1);
      Deno.writeFileSync(`${dir}/${next}`, before);
      d.files = [next];
      d.offset = [0, SEGMENT_HEADER_BYTES];
      break;
    }
    case "chmod 0444":
    case "chmod 0000":
      if (IS_ROOT) chownTree(dir);
      Deno.chmodSync(path, action === "chmod 0444" ? 0o444 : 0o000);
      break;
    default:
      throw new Error(`unknown action ${action}`);
  }
}

function addStray(action: string, dir: string, d: Damage): Damage {
  const put = (name: string, bytes: Uint8Array, keep: boolean) => {
    Deno.writeFileSync(`${dir}/${name}`, bytes);
    if (keep) d.keep.set(name, bytes);
  };
  const segment1 = Deno.readFileSync(`${dir}/${seg(FIRST)}`);
  switch (action) {
    case "add index.img.tmp (half an image)": {
      const img = Deno.readFileSync(`${dir}/${IMG}`);
      put(`${IMG}.tmp`, img.subarray(0, img.length >> 1), false);
      break;
    }
    case "add index.ckpt.tmp (empty)":
      put(`${CKPT}.tmp`, new Uint8Array(), false);
      break;
    case "add notes.txt":
      put("notes.txt", new TextEncoder().encode("backup taken 2026-12-01\n"), true);
      break;
    case "add .DS_Store":
      put(".DS_Store", garbage(96, 7), true);
      break;
    case "add 000003.fbat.bak (a copy)":
      put(`${seg(MIDDLE)}.bak`, Deno.readFileSync(`${dir}/${seg(MIDDLE)}`), true);
      break;
    case "add 12345.fbat (a copy of 000001.fbat)":
      put("12345.fbat", segment1, true);
      break;
    case "add 0000001.fbat (a copy of 000001.fbat)":
      put(`0${seg(FIRST)}`, segment1, true);
      d.files.push(`0${seg(FIRST)}`);
      d.offset = [0, 0];
      break;
    case "add archive/ holding a segment copy":
      Deno.mkdirSync(`${dir}/archive`);
      put(`archive/${seg(FIRST)}`, segment1, true);
      break;
    case "add a directory named 000006.fbat":
      Deno.mkdirSync(`${dir}/${seg(ACTIVE + 1)}`);
      d.files.push(seg(ACTIVE + 1));
      d.offset = [0, SEGMENT_HEADER_BYTES];
      break;
    default:
      throw new Error(`unknown action ${action}`);
  }
  return d;
}

// ============================================================ checks

/** Every file under `dir` (recursively) with its bytes; directories as `name/`. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = rel ? `${dir}/${rel}` : dir;
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(abs);
    } catch {
      return;
    }
    if (st.isDirectory) {
      if (rel) out.set(`${rel}/`, `mode ${(st.mode ?? 0) & 0o777}`);
      for (const e of Deno.readDirSync(abs)) walk(rel ? `${rel}/${e.name}` : e.name);
    } else {
      const b = Deno.readFileSync(abs);
      out.set(rel, `${b.length}:${crc32(b)}:mode ${(st.mode ?? 0) & 0o777}`);
    }
  };
  walk("");
  return out;
}

function diffSnapshots(
  before: Map<string, string>,
  after: Map<string, string>,
): string | undefined {
  const changes: string[] = [];
  for (const [k, v] of before) {
    if (!after.has(k)) changes.push(`${k} removed`);
    else if (after.get(k) !== v) changes.push(`${k} changed (${v} → ${after.get(k)})`);
  }
  for (const k of after.keys()) if (!before.has(k)) changes.push(`${k} created`);
  return changes.length ? changes.join(", ") : undefined;
}

/** How a dump compares with the pristine log, in a few words. */
function compareDump(dump: string[], pristine: string[]): string {
  const errors = dump.filter((l) => l.startsWith("ERROR"));
  for (let i = 0; i < Math.min(dump.length, pristine.length); i++) {
    if (dump[i] === pristine[i]) continue;
    if (dump[i].startsWith("ERROR")) {
      return `${errors.length} of ${dump.length} events unreadable (first: ${
        dump[i].slice(0, 160)
      })`;
    }
    return `WRONG DATA from g=${i + 1} (${dump.length} events, ${errors.length} unreadable)`;
  }
  if (dump.length < pristine.length) {
    return `a silently shorter log: ${dump.length} of ${pristine.length} events`;
  }
  if (dump.length > pristine.length) {
    return `${dump.length - pristine.length} events more than written`;
  }
  return "every event intact";
}

function describeOpen(r: Opened, pristine: string[]): string {
  const rejected = r.rejectedSidecars.length ? `, rejected [${r.rejectedSidecars.join("; ")}]` : "";
  const cut = r.truncatedBytes ? `, cut ${r.truncatedBytes} bytes` : "";
  const verify = r.verifyOk ? "verify ok" : `verify: ${r.problems.slice(0, 2).join("; ")}`;
  return `opened via ${r.path}${rejected}${cut}: ${compareDump(r.dump, pristine)}; ${verify}`;
}

function describeRefusal(r: Refused): string {
  const where = r.file !== undefined ? ` ${r.file}@${r.offset}` : "";
  const kind = r.storeError ? r.name : `RAW ${r.name}`;
  return `threw ${kind}${r.code ? ` (${r.code})` : ""}${where}: ${r.message.slice(0, 200)}`;
}

function label(r: ProbeResult, nth = ""): string {
  return `${r.readOnly ? "readOnly" : `writable${nth}`} open`;
}

function failsClosed(r: ProbeResult, d: Damage, pristine: string[]): string | undefined {
  if (r.opened) return `${label(r)} ${describeOpen(r, pristine)}`;
  if (r.code !== "CORRUPT_SEGMENT") return `${label(r)} ${describeRefusal(r)}`;
  if (!d.files.includes(r.file!)) {
    return `${label(r)}: CorruptSegmentError names ${r.file}@${r.offset}, not ${
      d.files.join(" or ")
    } (${r.message.slice(0, 160)})`;
  }
  if (r.offset! < d.offset[0] || r.offset! > d.offset[1]) {
    return `${label(r)}: CorruptSegmentError offset ${r.offset} outside [${d.offset.join(", ")}] (${
      r.message.slice(0, 160)
    })`;
  }
  return undefined;
}

async function checkFailsClosed(d: Damage, run: Runner, f: Fixture): Promise<string[]> {
  const problems: string[] = [];
  const s0 = snapshot(d.dataDir);
  const [ro] = await run(d.dataDir, [{ readOnly: true }]);
  const p1 = failsClosed(ro, d, f.pristine);
  if (p1) problems.push(p1);
  const s1 = snapshot(d.dataDir);
  const c1 = diffSnapshots(s0, s1);
  if (c1) problems.push(`the readOnly open changed the disk: ${c1}`);
  const [rw] = await run(d.dataDir, [{}]);
  const p2 = failsClosed(rw, d, f.pristine);
  if (p2) problems.push(p2);
  const c2 = diffSnapshots(s1, snapshot(d.dataDir));
  if (c2) problems.push(`the writable open changed the disk: ${c2}`);
  return problems;
}

async function checkOpensWhole(d: Damage, run: Runner, f: Fixture): Promise<string[]> {
  const problems: string[] = [];
  const results = await run(d.dataDir, [{ readOnly: true }, { semantics: f.spec }, {}]);
  results.forEach((r, i) => {
    const name = label(r, i === 2 ? " (again)" : "");
    if (!r.opened) {
      problems.push(`${name} ${describeRefusal(r)}`);
      return;
    }
    const cmp = compareDump(r.dump, f.pristine);
    if (cmp !== "every event intact" || !r.verifyOk) {
      problems.push(`${name} ${describeOpen(r, f.pristine)}`);
    }
    if (r.closeError) problems.push(`${name}: close threw ${r.closeError}`);
    if (i < 2) {
      for (const s of d.sidecars) {
        if (!r.rejectedSidecars.some((x) => x.startsWith(s))) {
          problems.push(
            `${name}: rejectedSidecars [${r.rejectedSidecars.join("; ")}] does not name ${s}`,
          );
        }
      }
    }
    if (r.semantics) {
      for (const k of ["cursor", "fence", "retry"] as const) {
        if (r.semantics[k] !== f.semantics[k]) {
          problems.push(`${name}: ${k} is ${r.semantics[k]}, expected ${f.semantics[k]}`);
        }
      }
    }
  });
  for (const [name, bytes] of d.keep) {
    const path = `${d.dataDir}/${name}`;
    if (!exists(path)) problems.push(`the stray ${name} was removed`);
    else if (crc32(Deno.readFileSync(path)) !== crc32(bytes)) {
      problems.push(`the stray ${name} was changed`);
    }
  }
  return problems;
}

async function checkShorter(d: Damage, run: Runner, f: Fixture): Promise<string[]> {
  const [rw] = await run(d.dataDir, [{}]);
  if (!rw.opened) return [`writable open ${describeRefusal(rw)}`];
  const problems: string[] = [];
  const prefix = rw.dump.every((l, i) => l === f.pristine[i]);
  if (!prefix || rw.dump.length >= f.pristine.length || !rw.verifyOk) {
    problems.push(
      `writable open ${describeOpen(rw, f.pristine)} (expected an exact, shorter prefix)`,
    );
  }
  return problems;
}

async function checkTyped(
  d: Damage,
  run: Runner,
  classes: string[],
  f: Fixture,
): Promise<string[]> {
  const [rw] = await run(d.dataDir, [{}]);
  if (rw.opened) return [`writable open ${describeOpen(rw, f.pristine)}`];
  if (!rw.storeError || !classes.includes(rw.name)) {
    return [`writable open ${describeRefusal(rw)} (expected ${classes.join(" or ")})`];
  }
  return [];
}

/** A second writer here and in another process must get StoreLockedError. */
async function checkLocked(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    const second = Store.open({ dataDir, segmentMaxBytes: SEGMENT_MAX_BYTES });
    problems.push("a second writer opened in this process");
    second.close();
  } catch (e) {
    if (!(e instanceof StoreLockedError)) {
      problems.push(`in this process: ${(e as Error).name}: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  const [other] = await inChild(dataDir, [{}], false);
  if (VERBOSE) {
    console.log(`  this process: ${problems[0] ?? "StoreLockedError"}`);
    console.log(`  other process: ${other.opened ? "opened" : describeRefusal(other)}`);
  }
  if (other.opened) problems.push("a second writer opened in another process");
  else if (other.code !== "STORE_LOCKED") {
    problems.push(`in another process: ${describeRefusal(other)}`);
  }
  return problems;
}

// ============================================================ one row

function materialise(files: Files): string {
  const dir = Deno.makeTempDirSync({ prefix: "opdmg-row-" });
  for (const [name, bytes] of files) Deno.writeFileSync(`${dir}/${name}`, bytes);
  return dir;
}

function cleanup(...paths: string[]): void {
  for (const p of paths) {
    try {
      if (!IS_ROOT && exists(p)) Deno.chmodSync(p, 0o755);
      Deno.removeSync(p, { recursive: true });
    } catch { /* already gone */ }
  }
}

async function runRow([target, variant, action, expected]: Row): Promise<void> {
  const f = fx();
  const dir = materialise(f.variants[variant]);
  const moved = `${dir}-moved`;
  let problems: string[] = [];
  try {
    if (action === "stale after a SIGKILLed holder") {
      const holder = await hold(dir, false);
      await holder.kill();
      problems = await checkOpensWhole(blank(dir), logged(inProcess), f);
    } else if (action.includes("while a child holds it")) {
      const holder = await hold(dir, action.includes("appends"));
      let path = dir;
      try {
        if (action.startsWith("delete")) {
          await new Promise((r) => setTimeout(r, 200)); // let it append for a while
          if (exists(`${dir}/${LOCK}`)) Deno.removeSync(`${dir}/${LOCK}`);
        } else if (action.startsWith("rename")) {
          Deno.renameSync(dir, moved);
          path = moved;
        }
        problems = await checkLocked(path);
      } finally {
        const out = await holder.stop();
        if (!out.startsWith("CLOSED")) problems.push(`the holder ended with "${out}"`);
      }
    } else {
      const d = damage(target, action, dir, f);
      const run = logged(action.startsWith("chmod") ? asNobody : inProcess);
      if (expected === "fails closed") problems = await checkFailsClosed(d, run, f);
      else if (expected === "opens whole") problems = await checkOpensWhole(d, run, f);
      else if (expected === "opens, shorter log (undetectable)") {
        problems = await checkShorter(d, run, f);
      } else if (expected.startsWith("typed error")) {
        const classes = expected.slice("typed error (".length, -1).split(" or ");
        problems = await checkTyped(d, run, classes, f);
      } else throw new Error(`no check for ${expected}`);
    }
  } finally {
    cleanup(dir, moved);
  }
  assert.ok(problems.length === 0, problems.join(" | "));
}

function blank(dir: string): Damage {
  return { files: [], offset: [0, 0], sidecars: [], keep: new Map(), dataDir: dir };
}

// ============================================================ the tests

function testName([target, variant, action, expected]: Row): string {
  const file = TARGET_FILE[target];
  const what = file && target !== file ? `${target} ${file}` : target;
  return `operator damage: ${what} [${variant}] ${action} → ${expected}`;
}

const names = new Set<string>();
for (const row of TABLE) {
  const name = testName(row);
  assert.ok(!names.has(name), `duplicate row: ${name}`);
  names.add(name);
  Deno.test({
    name,
    ignore: row[2].startsWith("chmod") && CHMOD_SKIP !== undefined,
    // Children and their pipes outlive a failed assertion only until cleanup.
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => runRow(row),
  });
}

// The fixture is what the table says it is.
Deno.test("operator damage: the fixture has ≥ 4 sealed segments, an active one, and every feature", () => {
  const f = fx();
  const closed = f.variants.closed;
  for (let n = FIRST; n <= ACTIVE; n++) assert.ok(closed.has(seg(n)), seg(n));
  assert.ok(!closed.has(seg(ACTIVE + 1)));
  assert.ok(
    f.variants.crashed.get(seg(ACTIVE))!.length > closed.get(seg(ACTIVE))!.length,
    "preallocated",
  );
  assert.ok(f.pristine.length > 30);
  assert.ok(f.semantics.cursor !== null && f.semantics.fence !== "null");
  for (let n = FIRST; n <= ACTIVE; n++) {
    assert.ok((f.history.get(seg(n))?.length ?? 0) >= 2, `history of ${seg(n)}`);
  }
  // The twin rows only bite when the twin's segments have the same frame layout.
  for (let n = FIRST; n <= ACTIVE; n++) {
    const mine = closed.get(seg(n))!;
    const twin = f.twin.get(seg(n))!;
    assert.deepEqual(frames(twin), frames(mine), `frame layout of the twin's ${seg(n)}`);
    assert.notDeepEqual(twin, mine);
  }
});
