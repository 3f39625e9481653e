/**
 * Regression tests for issue 10, items 1–11: data loss, wrong data, and
 * stores that will not open, found by hostile use on a real machine. Each
 * test is named `defect N: …` after its item and asserts what the contract
 * (../shared/API.md) requires; each failed on the code the issue was filed
 * against. Child processes live in tests/fixtures/defects/.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import * as batpak from "../../mod.ts";
import {
  type AppendReceipt,
  type BatchAppendItem,
  Coordinate,
  CorruptSegmentError,
  EventKind,
  InvalidArgumentError,
  OwnershipError,
  Region,
  Store,
  type StoreConfig,
  StoreError,
  StoreLockedError,
  type StoreReader,
} from "../../mod.ts";
import { type FsOp, MemoryFileSystem } from "../../testing.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONFIG = join(ROOT, "deno.json");
const MAIN = join(ROOT, "src", "cli", "main.ts");
const FIXTURES = join(ROOT, "tests", "fixtures", "defects");
const KIND = EventKind.custom(0x1, 1);
const MEM_DIR = "/db";
const BOM = "\uFEFF";
const GiB = 2 ** 30;
const MiB = 2 ** 20;

// ------------------------------------------------------------------ helpers

/** Segment file name of segment `n`. */
function seg(n: number): string {
  return `${String(n).padStart(6, "0")}.fbat`;
}

/** Segment file names in `dir`, ascending. */
function segmentFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^\d{6,}\.fbat$/.test(n))
    .sort();
}

/** Every file of `dir` that is neither a segment nor `LOCK`, with its bytes. */
function sidecars(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || e.name === "LOCK" || /^\d{6,}\.fbat$/.test(e.name)) continue;
    out.set(e.name, Deno.readFileSync(join(dir, e.name)));
  }
  return out;
}

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "batpak-defects-" });
}

function removeDir(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}

/** What a call threw: `undefined` when it returned. */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function describe(e: unknown): string {
  if (e === undefined) return "nothing was thrown";
  if (e instanceof Error) {
    return `${e.name}${
      (e as { code?: string }).code ? ` (${(e as { code?: string }).code})` : ""
    }: ${e.message.slice(0, 200)}`;
  }
  return String(e);
}

/** Open `config` and expect a `CorruptSegmentError`; closes the store if it opened anyway. */
function assertOpenFailsClosed(config: StoreConfig | string, what: string): CorruptSegmentError {
  let opened: Store | undefined;
  let error: unknown;
  try {
    opened = Store.open(config);
  } catch (e) {
    error = e;
  }
  if (opened) {
    const events = opened.diagnostics().events;
    const report = opened.diagnostics().openReport;
    const ok = opened.verify().ok;
    opened.close();
    assert.fail(
      `${what}: expected CorruptSegmentError, but the store opened with ${events} events ` +
        `(path ${report.path}, truncatedBytes ${report.truncatedBytes}, verify ok ${ok})`,
    );
  }
  assert.ok(
    error instanceof CorruptSegmentError,
    `${what}: expected CorruptSegmentError, got ${describe(error)}`,
  );
  return error;
}

/** An in-memory store. */
function memStore(extra: Partial<StoreConfig> = {}, fs = new MemoryFileSystem()) {
  let now = 1_700_000_000_000;
  const clock = () => now++;
  const open = (more: Partial<StoreConfig> = {}, on = fs) =>
    Store.open({ dataDir: MEM_DIR, fs: on, clock, ...extra, ...more });
  return { fs, store: open(), open };
}

/** A copy of every file of `fs` as it is now (what a killed process leaves in the page cache). */
function liveCopy(fs: MemoryFileSystem): MemoryFileSystem {
  const copy = new MemoryFileSystem();
  for (const path of fs.listFiles()) {
    copy.mkdir(path.slice(0, path.lastIndexOf("/")) || "/");
    copy.writeFile(path, fs.readFile(path));
  }
  return copy;
}

/** Event ids, entities, sequences and payloads of a store, in global order. */
function contents(store: StoreReader, region = Region.scope("w")): unknown[] {
  return store.query(region).map((e) => {
    const full = store.get(e.eventId);
    return [e.eventId, e.entity, e.sequence, e.globalSequence, full.payload];
  });
}

// ------------------------------------------------------------ child processes

interface ChildLine {
  t?: string;
  [k: string]: unknown;
}

/** A `deno run` child whose stdout is JSON lines, read as they come. */
class Child {
  readonly proc: Deno.ChildProcess;
  readonly lines: ChildLine[] = [];
  stderr = "";
  readonly #reading: Promise<void>;
  #wake: (() => void) | undefined;

  constructor(script: string, args: string[], stdin: "piped" | "null" = "piped") {
    const proc = this.proc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, script, ...args],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = (async () => {
      let rest = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf("\n")) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          try {
            this.lines.push(JSON.parse(line));
          } catch {
            this.lines.push({ t: "raw", line });
          }
          this.#wake?.();
        }
      }
      this.#wake?.();
    })();
    const err = (async () => {
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
    this.#reading = Promise.all([out, err]).then(() => {});
  }

  /** Resolves with the first line of type `t`; rejects after `timeoutMs` or when the child ends first. */
  async waitFor(t: string, timeoutMs = 15_000): Promise<ChildLine> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    this.#reading.then(() => ended = true);
    while (true) {
      const line = this.lines.find((l) => l.t === t);
      if (line) return line;
      if (ended || Date.now() > deadline) {
        throw new Error(
          `child never printed ${t}: lines ${JSON.stringify(this.lines.slice(-5))}, stderr ${
            this.stderr.slice(0, 1000)
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Close stdin (the writer's signal to stop) and wait for the exit. */
  async finish(): Promise<Deno.CommandStatus> {
    try {
      await this.proc.stdin.close();
    } catch { /* not piped or already closed */ }
    const status = await this.proc.status;
    await this.#reading;
    return status;
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    try {
      this.proc.kill("SIGKILL");
    } catch { /* already exited */ }
    try {
      await this.proc.stdin.close();
    } catch { /* not piped or already closed */ }
    await this.proc.status;
    await this.#reading;
  }
}

/** Start the live writer of tests/fixtures/defects/writer.ts and wait until it is appending. */
async function startWriter(dir: string, config: Record<string, unknown>): Promise<Child> {
  const child = new Child(join(FIXTURES, "writer.ts"), [dir, JSON.stringify(config)]);
  try {
    await child.waitFor("ready");
  } catch (e) {
    await child.kill();
    throw e;
  }
  return child;
}

/** Open a store from another process (tests/fixtures/defects/open_once.ts). */
async function openInChild(config: Record<string, unknown>): Promise<ChildLine> {
  const child = new Child(join(FIXTURES, "open_once.ts"), [JSON.stringify(config)], "null");
  const status = await child.finish();
  assert.equal(status.code, 0, `open_once exited ${status.code}: ${child.stderr}`);
  return child.lines[0];
}

/** Resident memory of a process, bytes (Linux), or undefined. */
function rssOf(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Watched {
  lines: ChildLine[];
  stderr: string;
  code: number;
  killed?: string;
  peakRssBytes: number;
}

/** Run a child to completion, SIGKILLing it when its memory or run time passes a bound. */
async function runWatched(
  script: string,
  args: string[],
  limits: { rssBytes: number; timeoutMs: number },
): Promise<Watched> {
  const child = new Child(script, args, "null");
  const started = Date.now();
  let peak = 0;
  let killed: string | undefined;
  let done = false;
  child.proc.status.then(() => done = true);
  while (!done) {
    const rss = rssOf(child.proc.pid) ?? 0;
    peak = Math.max(peak, rss);
    if (rss > limits.rssBytes) killed = `resident memory passed ${limits.rssBytes / GiB} GiB`;
    else if (Date.now() - started > limits.timeoutMs) {
      killed = `still running after ${limits.timeoutMs} ms`;
    }
    if (killed) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (killed) await child.kill();
  const status = await child.finish();
  return {
    lines: child.lines,
    stderr: child.stderr,
    code: status.code,
    killed,
    peakRssBytes: peak,
  };
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

// ======================================================== 1. segments over 4 GiB

/** The largest accepted `segmentMaxBytes`, once the fix exports it. */
const SEGMENT_MAX_BYTES_MAX = (batpak as Record<string, unknown>).SEGMENT_MAX_BYTES_MAX as
  | number
  | undefined;

Deno.test("defect 1: a segmentMaxBytes past what a 32-bit offset addresses is refused at open", () => {
  if (SEGMENT_MAX_BYTES_MAX !== undefined) {
    assert.ok(
      SEGMENT_MAX_BYTES_MAX <= 2 * GiB,
      `SEGMENT_MAX_BYTES_MAX is ${SEGMENT_MAX_BYTES_MAX}, at most 2 GiB`,
    );
  }
  const tooBig = [5 * GiB, 2 ** 32, ...(SEGMENT_MAX_BYTES_MAX ? [SEGMENT_MAX_BYTES_MAX + 1] : [])];
  for (const segmentMaxBytes of tooBig) {
    const fs = new MemoryFileSystem();
    const e = caught(() => Store.open({ dataDir: MEM_DIR, fs, segmentMaxBytes }));
    assert.ok(
      e instanceof InvalidArgumentError,
      `segmentMaxBytes ${segmentMaxBytes}: expected InvalidArgumentError, got ${describe(e)}`,
    );
    assert.ok(e instanceof StoreError);
    assert.equal(fs.stat(join(MEM_DIR, seg(1))), undefined, "nothing was created");
  }
  // The limit itself is accepted.
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: MEM_DIR, fs, segmentMaxBytes: SEGMENT_MAX_BYTES_MAX ?? GiB });
  store.append(new Coordinate("a", "s"), KIND, 1);
  store.close();
});

Deno.test("defect 1: an appendBatch of more than 4 GiB is refused with a typed error before it is written", async () => {
  // 270 items of 16,000,000 bytes: 4.02 GiB, every item under FRAME_BODY_BYTES_MAX. Run in a
  // child so its memory can be watched: a store that builds this batch in memory before
  // refusing it (or writes it) passes 5 GiB and is killed.
  const dir = tempDir();
  try {
    const run = await runWatched(
      join(FIXTURES, "big_batch.ts"),
      [dir, "270", String(16_000_000)],
      { rssBytes: 5 * GiB, timeoutMs: 25_000 },
    );
    assert.equal(
      run.killed,
      undefined,
      `the batch was not refused in time: ${run.killed} (peak ${
        (run.peakRssBytes / GiB).toFixed(2)
      } GiB), segment 1 is now ${Deno.statSync(join(dir, seg(1))).size} bytes`,
    );
    assert.equal(run.code, 0, run.stderr);
    const out = run.lines[0];
    assert.equal(out.threw, true, `the batch was accepted: ${JSON.stringify(out)}`);
    assert.ok(
      out.storeError === true &&
        (out.code === "PAYLOAD_TOO_LARGE" || out.code === "INVALID_ARGUMENT"),
      `expected PayloadTooLargeError or InvalidArgumentError, got ${JSON.stringify(out)}`,
    );
    assert.equal(out.events, 1, "nothing of the batch is in the store");
    const store = Store.open(dir);
    assert.equal(store.diagnostics().events, 1);
    assert.equal(store.verify().ok, true);
    store.close();
  } finally {
    removeDir(dir);
  }
});

Deno.test("defect 1: a last segment grown past 4 GiB by an operator fails the open and is not cut", async () => {
  for (const sidecarsOn of [true, false]) {
    const dir = tempDir();
    try {
      const config = sidecarsOn ? {} : { enableMmapIndex: false, enableCheckpoint: false };
      const store = Store.open({ dataDir: dir, ...config });
      for (let i = 0; i < 20; i++) store.append(new Coordinate(`e:${i % 3}`, "s"), KIND, { i });
      store.close();
      const path = join(dir, seg(1));
      const size = 4 * GiB + MiB;
      try {
        Deno.truncateSync(path, size); // sparse on most file systems
      } catch (e) {
        console.log(`skipped: the file system refuses a ${size}-byte sparse file (${describe(e)})`);
        return;
      }
      // Some bytes at the far end that are no frame: what a torn tail looks like, 4 GiB out.
      const h = Deno.openSync(path, { write: true });
      h.seekSync(size - 64, Deno.SeekMode.Start);
      h.writeSync(new Uint8Array(64).fill(0xab));
      h.close();
      // A writable open (the one that would cut), then a read-only one. In a child: a store
      // that reads the whole file into memory needs 4 GiB for it.
      for (const readOnly of [false, true]) {
        const what = `${sidecarsOn ? "with" : "without"} sidecars, ${
          readOnly ? "read-only" : "writable"
        }`;
        const run = await runWatched(
          join(FIXTURES, "open_once.ts"),
          [JSON.stringify({ dataDir: dir, readOnly, ...config })],
          { rssBytes: 6 * GiB, timeoutMs: 25_000 },
        );
        const after = Deno.statSync(path).size;
        assert.equal(run.killed, undefined, `${what}: the open did not finish: ${run.killed}`);
        const out = run.lines[0];
        assert.ok(
          out?.opened === false && out.name === "CorruptSegmentError",
          `${what}: expected CorruptSegmentError, got ${
            JSON.stringify(out)
          }; the segment went from ${size} to ${after} bytes`,
        );
        assert.equal(after, size, `${what}: the segment was not cut`);
      }
    } finally {
      removeDir(dir);
    }
  }
});

// ================================================ 2. a leading U+FEFF is kept

Deno.test('defect 2: idempotency keys "\\uFEFFtx-1" and "tx-1" are different keys, also after reopen', () => {
  const { store, open, fs } = memStore();
  const c = new Coordinate("acct:1", "bank");
  const plain = store.append(c, KIND, { amount: 1 }, { idempotencyKey: "tx-1" });
  const bom = store.append(c, KIND, { amount: 2 }, { idempotencyKey: `${BOM}tx-1` });
  assert.notEqual(
    bom.eventId,
    plain.eventId,
    'the BOM key was taken for "tx-1": the append was dropped',
  );
  assert.equal(store.stream("acct:1").length, 2);
  store.close();
  for (const config of [{}, { enableMmapIndex: false, enableCheckpoint: false }]) {
    const again = open(config, fs);
    assert.equal(again.stream("acct:1").length, 2);
    // Retries return each key's own first receipt and write nothing.
    assert.equal(again.append(c, KIND, {}, { idempotencyKey: "tx-1" }).eventId, plain.eventId);
    assert.equal(again.append(c, KIND, {}, { idempotencyKey: `${BOM}tx-1` }).eventId, bom.eventId);
    assert.equal(again.stream("acct:1").length, 2);
    again.close();
  }
});

/** Append to "order:1" and "\uFEFForder:1" alternately; returns the receipts. */
function appendBomTwins(store: Store, n = 3): { plain: AppendReceipt[]; bom: AppendReceipt[] } {
  const plain: AppendReceipt[] = [];
  const bom: AppendReceipt[] = [];
  for (let i = 0; i < n; i++) {
    plain.push(store.append(new Coordinate("order:1", "shop"), KIND, { i, which: "plain" }));
    bom.push(store.append(new Coordinate(`${BOM}order:1`, "shop"), KIND, { i, which: "bom" }));
  }
  return { plain, bom };
}

function assertBomTwins(
  store: StoreReader,
  r: { plain: AppendReceipt[]; bom: AppendReceipt[] },
): void {
  const plain = store.stream("order:1");
  const bom = store.stream(`${BOM}order:1`);
  assert.deepEqual(plain.map((e) => e.eventId), r.plain.map((x) => x.eventId));
  assert.deepEqual(bom.map((e) => e.eventId), r.bom.map((x) => x.eventId));
  assert.deepEqual(plain.map((e) => e.sequence), r.plain.map((_, i) => i + 1));
  assert.deepEqual(bom.map((e) => e.sequence), r.bom.map((_, i) => i + 1));
  for (const x of r.bom) assert.equal(store.get(x.eventId).entity, `${BOM}order:1`);
  for (const x of r.plain) assert.equal(store.get(x.eventId).entity, "order:1");
  assert.equal(store.readStream(`${BOM}order:1`).length, r.bom.length);
}

/** `verify()` problems of each stage, asserted together after the content checks. */
function verifyAll(stages: [string, Store][]): void {
  const found = Object.fromEntries(stages.map(([when, s]) => [when, s.verify().problems]));
  assert.deepEqual(found, Object.fromEntries(stages.map(([when]) => [when, []])), "verify()");
}

Deno.test('defect 2: entities "order:1" and "\\uFEFForder:1" stay separate after close, reopen and a crash (memory)', () => {
  const { store, open, fs } = memStore();
  const r = appendBomTwins(store);
  store.sync();
  assertBomTwins(store, r);
  const liveProblems = store.verify().problems;
  // Crash after sync: no sidecar, the open rebuilds from the log.
  const crashed = fs.crash();
  const afterCrash = open({}, crashed);
  assertBomTwins(afterCrash, r);
  afterCrash.close(); // writes the index image
  const viaImage = open({}, crashed);
  assertBomTwins(viaImage, r);
  viaImage.close();
  const rebuilt = open({ enableMmapIndex: false, enableCheckpoint: false }, crashed);
  assertBomTwins(rebuilt, r);
  assert.deepEqual(liveProblems, [], "verify() while open");
  verifyAll([["after the crash, rebuilt", rebuilt]]);
  rebuilt.close();
});

Deno.test('defect 2: entities "order:1" and "\\uFEFForder:1" stay separate on real files, with and without sidecars', () => {
  for (const config of [{ enableMmapIndex: false, enableCheckpoint: false }, {}]) {
    const dir = tempDir();
    try {
      const store = Store.open({ dataDir: dir, ...config });
      const r = appendBomTwins(store);
      store.close();
      for (const reopenConfig of [config, { enableMmapIndex: false, enableCheckpoint: false }]) {
        const again = Store.open({ dataDir: dir, ...reopenConfig });
        assertBomTwins(again, r);
        verifyAll([["reopened", again]]);
        again.close();
      }
      const reader = Store.open({ dataDir: dir, readOnly: true });
      assertBomTwins(reader, r);
      reader.close();
    } finally {
      removeDir(dir);
    }
  }
});

Deno.test("defect 2: a BOM entity survives the checkpoint open path", () => {
  // A checkpoint is written past 64Ki events; the open after a crash restores it and scans the tail.
  const { store, open, fs } = memStore();
  const early = appendBomTwins(store, 2);
  const filler = new Coordinate("filler", "f");
  for (let i = 0; i < 66_500; i++) store.append(filler, KIND, i);
  const late = appendBomTwins(store, 2);
  store.sync();
  const again = open({}, fs.crash());
  if (again.diagnostics().openReport.path !== "checkpoint") {
    console.log(`note: opened via ${again.diagnostics().openReport.path}, not the checkpoint`);
  }
  assertBomTwins(again, {
    plain: [...early.plain, ...late.plain],
    bom: [...early.bom, ...late.bom],
  });
  verifyAll([["after the crash", again]]);
  again.close();
});

Deno.test('defect 2: a fence on scope "\\uFEFFbank" is never accepted for "bank", before or after reopen', () => {
  const { store, open, fs } = memStore();
  const fence = store.ownership(`${BOM}bank`).claim("alice", 3_600_000);
  const check = (s: Store, when: string) => {
    const wrong = caught(() => s.append(new Coordinate("acct:2", "bank"), KIND, 1, { fence }));
    assert.ok(
      wrong instanceof OwnershipError,
      `${when}: a fence of "\\uFEFFbank" used on "bank": expected OwnershipError, got ${
        describe(wrong)
      }`,
    );
    assert.equal(s.ownership("bank").current(), undefined, `${when}: "bank" was never claimed`);
    const cur = s.ownership(`${BOM}bank`).current();
    assert.deepEqual(
      cur && { owner: cur.owner, epoch: cur.epoch },
      { owner: fence.owner, epoch: fence.epoch },
      `${when}: the owner of "\\uFEFFbank"`,
    );
    s.append(new Coordinate("acct:1", `${BOM}bank`), KIND, 1, { fence });
  };
  check(store, "while open");
  store.close();
  const viaImage = open({}, fs);
  check(viaImage, "after reopen (image)");
  viaImage.sync();
  const rebuilt = open({ enableMmapIndex: false, enableCheckpoint: false }, fs.crash());
  check(rebuilt, "after a crash (rebuild)");
  rebuilt.close();
});

Deno.test("defect 2: payload strings and a scope name that start with U+FEFF come back exact", () => {
  const dir = tempDir();
  try {
    const long = BOM + "long payload string ".repeat(15); // 301 chars
    const payloads: unknown[] = [
      long,
      `${BOM}hi`,
      { note: long, short: `${BOM}x`, [`${BOM}key`]: 1, list: [long, BOM] },
      BOM,
      BOM + BOM + "é".repeat(300),
    ];
    const scope = `${BOM}tenant`;
    const store = Store.open(dir);
    const ids = payloads.map((p) => store.append(new Coordinate("p:1", scope), KIND, p).eventId);
    const check = (s: Store, when: string) => {
      ids.forEach((id, i) => {
        const e = s.get(id);
        assert.deepEqual(e.payload, payloads[i], `${when}: payload ${i}`);
        assert.equal(e.scope, scope, `${when}: scope`);
      });
      assert.deepEqual(s.readStream("p:1").map((e) => e.payload), payloads, `${when}: readStream`);
      assert.equal(s.query(Region.scope(scope)).length, payloads.length, `${when}: scope query`);
      assert.equal(s.query(Region.scope("tenant")).length, 0, `${when}: "tenant" is another scope`);
    };
    check(store, "while open");
    store.close();
    const again = Store.open(dir);
    check(again, "after reopen (image)");
    again.close();
    const rebuilt = Store.open({ dataDir: dir, enableMmapIndex: false, enableCheckpoint: false });
    check(rebuilt, "after a rebuild");
    rebuilt.close();
  } finally {
    removeDir(dir);
  }
});

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Any well-formed string of arbitrary code points, often led by one or two BOMs. */
const unicode = (maxLength: number) => {
  const any = fc.string({ unit: "binary", maxLength }).filter((s) => s.isWellFormed());
  return fc.oneof(any, any.map((s) => BOM + s), any.map((s) => BOM + BOM + s));
};
const name = unicode(12).filter((s) => s.length > 0 && !CONTROL.test(s));

Deno.test("defect 2: property: arbitrary Unicode names, keys and payload strings round-trip exact through every open path", () => {
  const seed = Number(Deno.env.get("DEFECTS_SEED") ?? 20_261_010);
  fc.assert(
    fc.property(
      fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
      fc.uniqueArray(name, { minLength: 1, maxLength: 2 }),
      fc.uniqueArray(unicode(10).filter((s) => s.length > 0), { maxLength: 3 }),
      fc.array(fc.tuple(fc.nat(), unicode(16), fc.boolean()), {
        minLength: 1,
        maxLength: 6,
      }),
      (entityBase, scopeBase, keyBase, events) => {
        // Every name and key also with a BOM in front: twins that must stay apart.
        const twins = (xs: string[]) => [...new Set([...xs, ...xs.map((x) => BOM + x)])];
        const entities = twins(entityBase);
        const scopes = twins(scopeBase);
        const keys = twins(keyBase);
        const scopeOf = new Map(entities.map((e, i) => [e, scopes[i % scopes.length]]));
        const { store, open, fs } = memStore();
        const written: {
          id: string;
          entity: string;
          scope: string;
          payload: unknown;
          key?: string;
        }[] = [];
        const append = (entity: string, payload: unknown, key?: string) => {
          const scope = scopeOf.get(entity)!;
          const r = store.append(
            new Coordinate(entity, scope),
            KIND,
            payload,
            key === undefined ? undefined : { idempotencyKey: key },
          );
          written.push({ id: r.eventId, entity, scope, payload, key });
        };
        for (const [e, text, long] of events) {
          const t = long ? text + "·".repeat(120) : text;
          append(entities[e % entities.length], { t, [BOM + text]: [t, BOM + t] });
        }
        keys.forEach((key, i) => append(entities[i % entities.length], key, key));
        store.sync();
        const check = (s: Store, when: string) => {
          const ids = new Set(written.map((w) => w.id));
          assert.equal(ids.size, written.length, `${when}: an append was dropped as a duplicate`);
          for (const w of written) {
            const e = s.get(w.id);
            assert.equal(e.entity, w.entity, `${when}: entity`);
            assert.equal(e.scope, w.scope, `${when}: scope`);
            assert.deepEqual(e.payload, w.payload, `${when}: payload`);
          }
          for (const entity of entities) {
            const mine = written.filter((w) => w.entity === entity).map((w) => w.id);
            assert.deepEqual(s.stream(entity).map((x) => x.eventId), mine, `${when}: stream`);
          }
          for (const scope of scopes) {
            const mine = written.filter((w) => w.scope === scope).map((w) => w.id);
            assert.deepEqual(
              s.query(Region.scope(scope)).map((x) => x.eventId),
              mine,
              `${when}: scope`,
            );
          }
          problems.push(...s.verify().problems.map((x) => `${when}: ${x.message}`));
        };
        const problems: string[] = [];
        check(store, "while open");
        const crashed = fs.crash();
        const afterCrash = open({}, crashed);
        check(afterCrash, "after a crash");
        afterCrash.close();
        const viaImage = open({}, crashed);
        check(viaImage, "after reopen (image)");
        viaImage.close();
        const rebuilt = open({ enableMmapIndex: false, enableCheckpoint: false }, crashed);
        check(rebuilt, "after a rebuild");
        // A retry of each key returns that key's own event and writes nothing.
        const before = rebuilt.diagnostics().events;
        for (const w of written.filter((x) => x.key !== undefined)) {
          const r = rebuilt.append(new Coordinate(w.entity, w.scope), KIND, "retry", {
            idempotencyKey: w.key,
          });
          assert.equal(r.eventId, w.id, "a key retry after reopen");
        }
        assert.equal(rebuilt.diagnostics().events, before, "key retries wrote nothing");
        rebuilt.close();
        assert.deepEqual(problems, [], "verify() problems");
      },
    ),
    { numRuns: 150, seed },
  );
});

// ================================================== 3. deleting LOCK

Deno.test("defect 3: deleting LOCK beside a live writer process lets no second writer in", async () => {
  const dir = tempDir();
  let writer: Child | undefined;
  try {
    writer = await startWriter(dir, { ack: true });
    // Sanity: the lock holds while LOCK is in place.
    assert.ok(caught(() => Store.open(dir)) instanceof StoreLockedError);
    try {
      Deno.removeSync(join(dir, "LOCK")); // an operator "cleaning a stale lock"
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const inChild = await openInChild({ dataDir: dir });
    let here: string;
    try {
      const store = Store.open(dir);
      here = `opened with ${store.diagnostics().events} events`;
      store.close();
    } catch (e) {
      here = e instanceof StoreLockedError ? "STORE_LOCKED" : describe(e);
    }
    await new Promise((r) => setTimeout(r, 300)); // the writer keeps going
    const status = await writer.finish();
    const outcome = {
      openInThisProcess: here,
      openInAnotherProcess: inChild.opened ? `opened with ${inChild.events} events` : inChild.code,
    };
    assert.deepEqual(outcome, {
      openInThisProcess: "STORE_LOCKED",
      openInAnotherProcess: "STORE_LOCKED",
    });
    assert.equal(
      status.code,
      0,
      `writer: ${JSON.stringify(writer.lines.filter((l) => l.t === "error"))}`,
    );
    const acks = writer.lines.filter((l) => l.t === "ack");
    assert.ok(acks.length > 0);
    const store = Store.open(dir);
    try {
      assert.deepEqual(store.verify().problems, []);
      for (const a of acks) {
        const e = caught(() =>
          assert.equal((store.get(a.id as string).payload as { i: number }).i, a.i)
        );
        assert.equal(e, undefined, `acknowledged event ${a.i} (${a.id}): ${describe(e)}`);
      }
    } finally {
      store.close();
    }
  } finally {
    await writer?.kill();
    removeDir(dir);
  }
});

// ===================================== 4. a torn frame whose payload holds a frame

/** The bytes of one complete, valid event frame, cut out of a scratch store's segment. */
function realFrame(): Uint8Array {
  const dir = tempDir();
  try {
    const scratch = Store.open(dir);
    scratch.append(new Coordinate("inner", "s"), KIND, "an event inside a payload");
    scratch.close();
    const bytes = Deno.readFileSync(join(dir, seg(1)));
    const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(16 + 4, true);
    return bytes.slice(16, 16 + 12 + length);
  } finally {
    removeDir(dir);
  }
}

/** Offsets of the frames of a segment file. */
function frameOffsets(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: number[] = [];
  for (let at = 16; at + 12 <= bytes.length;) {
    if (bytes[at + 10] !== 0xb7 || bytes[at + 11] !== 0xf1) break;
    out.push(at);
    at += 12 + dv.getUint32(at + 4, true);
  }
  return out;
}

/** A 1 MiB payload with a complete valid frame 300 KB in. */
function payloadWithFrame(): Uint8Array {
  const payload = new Uint8Array(MiB).fill(0x5a);
  payload.set(realFrame(), 300_000);
  return payload;
}

Deno.test("defect 4: a torn 1 MiB frame whose payload embeds a valid frame is cut as a torn tail (real files)", () => {
  const dir = tempDir();
  try {
    const config = { dataDir: dir, enableMmapIndex: false, enableCheckpoint: false };
    const store = Store.open(config);
    const c = new Coordinate("acct:1", "bank");
    const durable = [0, 1, 2, 3, 4].map((i) => store.append(c, KIND, { i }).eventId);
    store.sync();
    store.append(c, KIND, payloadWithFrame());
    store.sync();
    store.close();
    // The crash: the big frame reached the disk only up to 700 KB in, past the embedded frame.
    const path = join(dir, seg(1));
    const bytes = Deno.readFileSync(path);
    const big = frameOffsets(bytes).at(-1)!;
    const torn = bytes.slice(0, big + 700_000);
    for (const reopen of [config, { dataDir: dir }]) {
      Deno.writeFileSync(path, torn); // the same torn state for each open
      removeSidecarsOf(dir);
      let again: Store | undefined;
      const e = caught(() => again = Store.open(reopen));
      assert.equal(e, undefined, `reopen after the torn write: ${describe(e)}`);
      assert.deepEqual(again!.stream("acct:1").map((x) => x.eventId), durable);
      assert.deepEqual(
        durable.map((id) => again!.get(id).payload),
        [0, 1, 2, 3, 4].map((i) => ({ i })),
      );
      assert.equal(again!.verify().ok, true);
      again!.append(c, KIND, { after: true });
      again!.close();
      const reader = Store.open({ dataDir: dir, readOnly: true });
      assert.equal(reader.diagnostics().events, 6);
      reader.close();
    }
  } finally {
    removeDir(dir);
  }
});

function removeSidecarsOf(dir: string): void {
  for (const name of sidecars(dir).keys()) Deno.removeSync(join(dir, name));
}

Deno.test("defect 4: a torn 1 MiB frame whose payload embeds a valid frame, behind an index image (memory crash)", () => {
  const { store, open, fs } = memStore();
  const c = new Coordinate("acct:1", "bank");
  const durable = [0, 1, 2].map((i) => store.append(c, KIND, { i }).eventId);
  store.close(); // an index image covering the three
  const second = open({}, fs);
  durable.push(second.append(c, KIND, { i: 3 }).eventId);
  second.sync();
  second.append(c, KIND, payloadWithFrame());
  second.sync();
  const crashed = fs.crash();
  const path = join(MEM_DIR, seg(1));
  const bytes = crashed.readFile(path);
  const big = frameOffsets(bytes).at(-1)!;
  crashed.writeFile(path, bytes.slice(0, big + 700_000));
  let again: Store | undefined;
  const e = caught(() => again = open({}, crashed));
  assert.equal(e, undefined, `reopen after the torn write: ${describe(e)}`);
  assert.deepEqual(again!.stream("acct:1").map((x) => x.eventId), durable);
  assert.ok(again!.diagnostics().openReport.truncatedBytes > 0, "the cut is reported");
  assert.equal(again!.verify().ok, true);
  again!.close();
});

// ============================================ 5. re-entrant appendBatch

/**
 * Run a batch of three items on an entity that already has one event; item 0
 * expects sequence 1, item 2's payload (via `makePayload`) appends to the same
 * entity while the batch reads it. Checks the contract: either the batch throws
 * a StoreError and wrote nothing, or the stream is gapless with item 0's CAS
 * honoured; a reopen works and verifies.
 */
function reentrantBatch(
  lastItem: (
    coord: Coordinate,
    reenter: () => void,
  ) => { item: BatchAppendItem; reads: () => number },
  label: string,
): void {
  const { store, open, fs } = memStore();
  const c = new Coordinate("acct:1", "bank");
  store.append(c, KIND, { seed: true });
  let reentered = 0;
  const { item, reads } = lastItem(c, () => {
    if (++reentered === 1) store.append(c, KIND, { reentrant: true });
  });
  const items: BatchAppendItem[] = [
    { coord: c, kind: KIND, payload: { item: 0 }, options: { expectedSequence: 1 } },
    { coord: new Coordinate("other", "bank"), kind: KIND, payload: { item: 1 } },
    item,
  ];
  let receipts: AppendReceipt[] | undefined;
  const error = caught(() => receipts = store.appendBatch(items));
  const seqs = store.stream("acct:1").map((e) => e.sequence);
  const payloads = store.readStream("acct:1").map((e) => e.payload);
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    `${label}: stream sequences ${JSON.stringify(seqs)}`,
  );
  if (error !== undefined) {
    assert.ok(
      error instanceof StoreError,
      `${label}: the batch threw ${describe(error)}, not a StoreError`,
    );
    assert.ok(
      !payloads.some((p) => (p as { item?: number }).item !== undefined),
      `${label}: the batch threw but wrote ${JSON.stringify(payloads)}`,
    );
    assert.equal(
      store.stream("other").length,
      0,
      `${label}: item 1 of the failed batch was written`,
    );
  } else {
    assert.equal(
      receipts![0].sequence,
      2,
      `${label}: item 0 expected sequence 1, got ${receipts![0].sequence}`,
    );
    assert.deepEqual(
      payloads[1],
      { item: 0 },
      `${label}: another event came between item 0's CAS and item 0`,
    );
  }
  const all = store.query(Region.all()).map((e) => e.globalSequence);
  assert.deepEqual(all, all.map((_, i) => i + 1), `${label}: global sequences`);
  assert.deepEqual(store.verify().problems, [], `${label}: verify`);
  // One read (issue 10, items 5 and 14): a second read could see another value.
  assert.equal(reads(), 1, `${label}: the payload was read ${reads()} times, expected once`);
  store.sync();
  const crashed = fs.crash();
  for (
    const [when, config] of [
      ["crash, rebuild", { enableMmapIndex: false, enableCheckpoint: false }],
      ["reopen, image", {}],
    ] as const
  ) {
    let again: Store | undefined;
    const e = caught(() => again = open(config, crashed));
    assert.equal(e, undefined, `${label}: ${when} after the batch: ${describe(e)}`);
    assert.deepEqual(again!.stream("acct:1").map((x) => x.sequence), seqs, `${label}: ${when}`);
    assert.equal(again!.verify().ok, true, `${label}: ${when}: verify`);
    again!.close();
  }
}

Deno.test("defect 5: a later batch item's payload getter that appends to the same entity leaves a consistent stream", () => {
  reentrantBatch((coord, reenter) => {
    let reads = 0;
    const item = {
      coord,
      kind: KIND,
      get payload() {
        reads++;
        reenter();
        return { item: 2 };
      },
    };
    return { item, reads: () => reads };
  }, "getter");
});

Deno.test("defect 5: a later batch item's payload Proxy whose trap appends to the same entity leaves a consistent stream", () => {
  reentrantBatch((coord, reenter) => {
    let reads = 0;
    const payload = new Proxy({ item: 2 }, {
      get(target, prop, receiver) {
        if (prop === "item") {
          reads++;
          reenter();
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    return { item: { coord, kind: KIND, payload }, reads: () => reads };
  }, "proxy");
});

// ============================================ 6. a missing or short last segment

/** A store of 30 events over several small segments, closed cleanly (index image written). */
function severalSegments(dir: string): number {
  const store = Store.open({ dataDir: dir, segmentMaxBytes: 1024 });
  // At least 4 segments, and at least two frames in the last one (whatever the frame size).
  let i = 0;
  let sinceRotation = 0;
  while (store.diagnostics().segments < 4 || sinceRotation < 2) {
    const before = store.diagnostics().segments;
    store.append(new Coordinate(`e:${i % 4}`, "s"), KIND, { i, pad: "p".repeat(40) });
    i++;
    sinceRotation = store.diagnostics().segments === before ? sinceRotation + 1 : 1;
  }
  store.close();
  const n = segmentFiles(dir).length;
  assert.ok(n >= 4, `test setup: ${n} segments`);
  assert.ok(sidecars(dir).size > 0, "test setup: an index image was written");
  return n;
}

Deno.test("defect 6: a deleted newest segment fails the open, and the index image is left as evidence", () => {
  const dir = tempDir();
  try {
    const n = severalSegments(dir);
    Deno.removeSync(join(dir, seg(n)));
    const before = sidecars(dir);
    const e = assertOpenFailsClosed(dir, `segment ${seg(n)} deleted`);
    assert.match(`${e.file} ${e.message}`, new RegExp(`${seg(n).slice(0, 6)}|segment ${n}\\b`));
    assert.deepEqual(
      sidecars(dir),
      before,
      "the sidecars are byte-identical after the failed open",
    );
    assertOpenFailsClosed(dir, "a second open");
    assert.deepEqual(sidecars(dir), before);
  } finally {
    removeDir(dir);
  }
});

Deno.test("defect 6: a deleted newest segment also fails a read-only open", () => {
  const dir = tempDir();
  try {
    const n = severalSegments(dir);
    Deno.removeSync(join(dir, seg(n)));
    const before = sidecars(dir);
    assertOpenFailsClosed({ dataDir: dir, readOnly: true }, `readOnly, ${seg(n)} deleted`);
    assert.deepEqual(sidecars(dir), before);
  } finally {
    removeDir(dir);
  }
});

Deno.test("defect 6: a deleted middle segment fails the open, sidecars untouched", () => {
  const dir = tempDir();
  try {
    severalSegments(dir);
    Deno.removeSync(join(dir, seg(2)));
    const before = sidecars(dir);
    assertOpenFailsClosed(dir, `segment ${seg(2)} deleted`);
    assert.deepEqual(sidecars(dir), before);
  } finally {
    removeDir(dir);
  }
});

for (const cut of ["mid-frame", "at a frame boundary"] as const) {
  Deno.test(`defect 6: a last segment truncated below the index image's coverage (${cut}) fails the open`, () => {
    const dir = tempDir();
    try {
      const n = severalSegments(dir);
      const path = join(dir, seg(n));
      const frames = frameOffsets(Deno.readFileSync(path));
      assert.ok(frames.length >= 2, "test setup: two frames in the last segment");
      const to = cut === "mid-frame" ? frames.at(-1)! + 20 : frames.at(-1)!;
      Deno.truncateSync(path, to);
      const before = sidecars(dir);
      assertOpenFailsClosed(dir, `${seg(n)} truncated ${cut}`);
      assert.deepEqual(
        sidecars(dir),
        before,
        "the sidecars are byte-identical after the failed open",
      );
      assert.equal(Deno.statSync(path).size, to, "the segment was not cut further");
    } finally {
      removeDir(dir);
    }
  });
}

// ===================================== 7. a replaced sealed segment behind an image

Deno.test("defect 7: a sealed segment replaced by another store's same-size segment never returns another event", () => {
  const mine = tempDir();
  const theirs = tempDir();
  try {
    const build = (dir: string, tag: string) => {
      const store = Store.open({ dataDir: dir, segmentMaxBytes: 1024 });
      const ids: string[] = [];
      for (let i = 0; i < 24; i++) {
        ids.push(store.append(new Coordinate(`e:${i % 3}`, "s"), KIND, { i, tag }).eventId);
      }
      store.close();
      return ids;
    };
    const myIds = build(mine, "mine");
    build(theirs, "them");
    const a = Deno.readFileSync(join(mine, seg(1)));
    const b = Deno.readFileSync(join(theirs, seg(1)));
    assert.equal(a.length, b.length, "test setup: same-size segments");
    assert.notDeepEqual(a, b);
    Deno.writeFileSync(join(mine, seg(1)), b);
    // The image vouches for segment 1 without reading it. Refusing to open is fine too.
    let store: Store;
    try {
      store = Store.open(mine);
    } catch (e) {
      assert.ok(e instanceof CorruptSegmentError, `open: ${describe(e)}`);
      return;
    }
    try {
      const inSegment1 = store.query(Region.all()).filter((e) => e.globalSequence <= 3);
      for (const entry of inSegment1) {
        let got: unknown;
        const e = caught(() => got = store.get(entry.eventId));
        assert.ok(
          e instanceof CorruptSegmentError,
          `get(${entry.eventId}): expected CorruptSegmentError, got ${
            e === undefined
              ? `an event with id ${(got as { eventId: string }).eventId}, payload ${
                JSON.stringify((got as { payload: unknown }).payload)
              }`
              : describe(e)
          }`,
        );
      }
      const first = store.get(myIds.at(-1)!); // in the last segment: untouched
      assert.equal(first.eventId, myIds.at(-1));
      for (const entity of ["e:0", "e:1", "e:2"]) {
        const e = caught(() => store.readStream(entity));
        assert.ok(e instanceof CorruptSegmentError, `readStream(${entity}): ${describe(e)}`);
      }
      const cursor = store.cursorGuaranteed(Region.all());
      const e = caught(() => cursor.pollBatch(100));
      assert.ok(e instanceof CorruptSegmentError, `cursor poll: ${describe(e)}`);
      assert.equal(store.verify().ok, false, "verify names the replaced segment");
    } finally {
      store.close();
    }
  } finally {
    removeDir(mine);
    removeDir(theirs);
  }
});

// ============================== 8. followers during rotation / 9. verify beside a writer

/**
 * Fill `dir` with a store of about `segments` tiny segments (built in memory, then written out):
 * with thousands of entries a directory listing takes several getdents calls, the window in
 * which a concurrent rotation shows a listing with a hole.
 */
function manySegments(dir: string, segments: number): void {
  const { store, fs } = memStore({ segmentMaxBytes: 256 });
  for (let i = 0; store.diagnostics().segments < segments; i++) {
    store.append(new Coordinate(`w:${i % 7}`, "w"), KIND, { i });
  }
  store.close();
  for (const path of fs.listFiles()) {
    Deno.writeFileSync(join(dir, path.slice(MEM_DIR.length + 1)), fs.readFile(path));
  }
}

Deno.test("defect 8: a read-only follower of a writer rotating fast never throws and never goes back", async () => {
  const dir = tempDir();
  let writer: Child | undefined;
  const errors: string[] = [];
  let follower: StoreReader | undefined;
  try {
    manySegments(dir, 3000);
    writer = await startWriter(dir, { segmentMaxBytes: 4096, perRound: 40, padBytes: 60 });
    follower = Store.open({ dataDir: dir, readOnly: true });
    let seen = follower.diagnostics().events;
    let calls = 0;
    let opens = 0;
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      calls++;
      const e = caught(() => follower!.refresh());
      if (e !== undefined) errors.push(`refresh: ${describe(e)}`);
      const now = follower.diagnostics().events;
      assert.ok(now >= seen, `the follower went back from ${seen} to ${now} events`);
      seen = now;
      if (calls % 20 === 0) {
        opens++;
        const o = caught(() => Store.open({ dataDir: dir, readOnly: true }).close());
        if (o !== undefined) errors.push(`readOnly open: ${describe(o)}`);
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    const status = await writer.finish();
    assert.equal(status.code, 0, writer.stderr);
    assert.deepEqual(errors, [], `${errors.length} of ${calls} refreshes and ${opens} opens threw`);
    follower.refresh();
    const fresh = Store.open(dir);
    try {
      assert.deepEqual(contents(follower), contents(fresh));
      assert.ok(fresh.diagnostics().segments > 3020, "test setup: the writer rotated");
    } finally {
      fresh.close();
    }
  } finally {
    follower?.close();
    await writer?.kill();
    removeDir(dir);
  }
});

Deno.test("defect 8: cli tail --follow keeps following a writer that rotates fast", async () => {
  const dir = tempDir();
  let writer: Child | undefined;
  let tail: Deno.ChildProcess | undefined;
  try {
    manySegments(dir, 3000);
    writer = await startWriter(dir, { segmentMaxBytes: 4096, perRound: 40, padBytes: 60 });
    tail = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, MAIN, "tail", dir, "--follow", "-n", "1"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let exited: Deno.CommandStatus | undefined;
    tail.status.then((s) => exited = s);
    await new Promise((r) => setTimeout(r, 4_000));
    const early = exited;
    if (!early) tail.kill("SIGINT");
    const status = await tail.status;
    const stderr = new TextDecoder().decode(await new Response(tail.stderr).bytes());
    tail = undefined;
    assert.equal(
      early,
      undefined,
      `tail --follow exited on its own with ${early?.code}: ${stderr}`,
    );
    assert.equal(status.code, 0, stderr);
    assert.equal(stderr, "");
  } finally {
    try {
      tail?.kill("SIGKILL");
      await tail?.status;
      await tail?.stderr.cancel();
    } catch { /* gone */ }
    await writer?.finish();
    removeDir(dir);
  }
});

Deno.test("defect 9: cli verify beside a live writer exits 0 every time", async () => {
  const dir = tempDir();
  let writer: Child | undefined;
  try {
    writer = await startWriter(dir, { perRound: 20, padBytes: 60 });
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await cli("verify", dir);
      if (run.code !== 0) {
        runs.push(`run ${i}: exit ${run.code}: ${(run.stdout + run.stderr).trim().slice(0, 300)}`);
      }
    }
    const status = await writer.finish();
    assert.equal(status.code, 0, writer.stderr);
    assert.deepEqual(runs, [], `${runs.length} of 5 verify runs failed`);
  } finally {
    await writer?.kill();
    removeDir(dir);
  }
});

Deno.test("defect 9: a read-only verify() beside a live writer finds no problem", async () => {
  const dir = tempDir();
  let writer: Child | undefined;
  try {
    writer = await startWriter(dir, { perRound: 20, padBytes: 60, segmentMaxBytes: 64 * 1024 });
    const problems: string[] = [];
    let runs = 0;
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      runs++;
      const reader = Store.open({ dataDir: dir, readOnly: true });
      try {
        const report = reader.verify();
        if (!report.ok) problems.push(JSON.stringify(report.problems[0]));
      } finally {
        reader.close();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const status = await writer.finish();
    assert.equal(status.code, 0, writer.stderr);
    assert.deepEqual(
      problems,
      [],
      `${problems.length} of ${runs} read-only verifies reported problems`,
    );
  } finally {
    await writer?.kill();
    removeDir(dir);
  }
});

// ================================ 10. a zero-byte segment from an interrupted rotation

for (const [label, bytes] of [["zero-byte", 0], ["header-less all-zero", 4096]] as const) {
  Deno.test(`defect 10: a ${label} last segment left by an interrupted rotation is harmless`, async () => {
    const dir = tempDir();
    try {
      const store = Store.open({ dataDir: dir, segmentMaxBytes: 2048 });
      for (let i = 0; i < 40; i++) {
        store.append(new Coordinate(`e:${i % 3}`, "s"), KIND, { i, pad: "z".repeat(30) });
      }
      store.close();
      const n = segmentFiles(dir).length;
      Deno.writeFileSync(join(dir, seg(n + 1)), new Uint8Array(bytes));
      const reader = Store.open({ dataDir: dir, readOnly: true });
      const report = reader.verify();
      assert.equal(reader.diagnostics().events, 40);
      reader.close();
      assert.deepEqual(report.problems, [], "read-only verify()");
      assert.equal(report.ok, true);
      const run = await cli("verify", dir);
      assert.equal(run.code, 0, `cli verify: ${run.stdout}${run.stderr}`);
      const writable = Store.open({ dataDir: dir, segmentMaxBytes: 2048 });
      assert.equal(writable.diagnostics().events, 40);
      writable.append(new Coordinate("e:0", "s"), KIND, { after: true });
      assert.equal(writable.verify().ok, true);
      writable.close();
      const again = Store.open({ dataDir: dir, enableMmapIndex: false, enableCheckpoint: false });
      assert.equal(again.diagnostics().events, 41);
      assert.equal(again.verify().ok, true);
      again.close();
    } finally {
      removeDir(dir);
    }
  });
}

// =============================================== 11. a snapshot killed mid-copy

/** An incomplete snapshot must not open as a store: no store files at all, or a typed error. */
function assertNoPartialStore(
  open: () => StoreReader,
  segments: string[],
  what: string,
  complete: number,
): void {
  if (segments.length === 0) return; // nothing there that could be taken for a store
  let store: StoreReader | undefined;
  const e = caught(() => store = open());
  if (store) {
    const events = store.diagnostics().events;
    store.close();
    assert.fail(
      `${what}: the incomplete snapshot opened as a store with ${events} of ${complete} events`,
    );
  }
  assert.ok(e instanceof StoreError, `${what}: expected a StoreError, got ${describe(e)}`);
}

Deno.test("defect 11: a snapshot process SIGKILLed mid-copy leaves nothing that opens as a store", async () => {
  const root = tempDir();
  const src = join(root, "src");
  const dest = join(root, "snap");
  const child = new Child(join(FIXTURES, "snapshot_child.ts"), [src, dest, "3"], "null");
  try {
    const ready = await child.waitFor("ready", 20_000);
    assert.ok((ready.segments as number) >= 3, `test setup: ${ready.segments} segments`);
    await child.waitFor("paused", 20_000);
    await child.kill();
    const names = (() => {
      try {
        return [...Deno.readDirSync(dest)].map((e) => e.name);
      } catch {
        return [];
      }
    })();
    const segments = names.filter((n) => n.endsWith(".fbat"));
    const what = `${dest} holds ${names.join(", ")}`;
    const complete = ready.events as number;
    // Read-only first: it changes nothing on disk.
    assertNoPartialStore(
      () => Store.open({ dataDir: dest, readOnly: true }),
      segments,
      `read-only: ${what}`,
      complete,
    );
    assertNoPartialStore(() => Store.open(dest), segments, what, complete);
    // The source is intact.
    const store = Store.open(src);
    assert.equal(store.diagnostics().events, ready.events);
    store.close();
  } finally {
    await child.kill();
    removeDir(root);
  }
});

Deno.test("defect 11: a snapshot killed mid-copy (simulated) does not open as a store, before or after a power loss", () => {
  for (const killAt of [1, 2, 3, 5]) {
    const { store, fs } = memStore({ segmentMaxBytes: 1024 });
    for (let i = 0; i < 40; i++) {
      store.append(new Coordinate(`e:${i % 3}`, "s"), KIND, { i, pad: "q".repeat(40) });
    }
    store.sync();
    assert.ok(store.diagnostics().segments >= 4);
    // The process dies at the killAt-th write of the snapshot: that op and every later one fails.
    let writes = 0;
    let dead = false;
    fs.setFaultInjector((op: FsOp) => {
      // Writes outside the store's own directory are the snapshot's, wherever it stages them.
      if (!dead && op.kind === "write" && !op.path.startsWith(`${MEM_DIR}/`)) {
        dead = ++writes === killAt;
      }
      if (dead) throw new Error("killed");
      return undefined;
    });
    assert.ok(caught(() => store.snapshot("/snap")) !== undefined, "the snapshot was interrupted");
    fs.setFaultInjector(undefined);
    for (
      const [when, disk] of [["process kill", liveCopy(fs)], ["power loss", fs.crash()]] as const
    ) {
      const segments = disk.stat("/snap")?.isDirectory
        ? disk.readDir("/snap").filter((n: string) => n.endsWith(".fbat"))
        : [];
      assertNoPartialStore(
        () => Store.open({ dataDir: "/snap", fs: disk }),
        segments,
        `killed at write ${killAt}, ${when}: /snap holds ${segments.join(", ")}`,
        store.diagnostics().events,
      );
    }
  }
});
