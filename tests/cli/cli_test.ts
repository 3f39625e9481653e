/**
 * The CLI, run as a user runs it: a subprocess per command, against small
 * stores made here. Checks exit codes, output, and that bad input gives one
 * line on stderr and never a stack trace.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  Coordinate,
  EventKind,
  Region,
  snapshotReportMarkdown,
  Store,
  type StoredEvent,
} from "../../mod.ts";
import { followEvents } from "../../src/cli/tail.ts";
import { main } from "../../src/cli/main.ts";
import { parseTarget, resolveUserPath } from "../../src/cli/_store.ts";
import {
  assertOneLineError,
  childEnv,
  cli,
  cliIn,
  MAIN,
  ROOT,
  runCommand,
} from "../fixtures/cli.ts";

const KIND = EventKind.custom(0x1, 1);
const COMMANDS = ["inspect", "verify", "tail", "dump", "harness", "gates"];

interface MadeStore {
  dir: string;
  root: string;
}

/** `events` events round-robin over `entities` entities `account:<i>` in scope `bank`. */
function makeStore(
  events = 50,
  entities = 5,
  config: { segmentMaxBytes?: number } = {},
): MadeStore {
  const root = Deno.makeTempDirSync({ prefix: "batpak-cli-test-" });
  const dir = join(root, "store");
  const store = Store.open({ dataDir: dir, ...config });
  for (let i = 0; i < events; i++) {
    store.append(new Coordinate(`account:${i % entities}`, "bank"), KIND, {
      i,
      big: 2n ** 60n,
      bytes: new Uint8Array([1, 2, 3]),
    });
  }
  store.close();
  return { dir, root };
}

function cleanup(s: MadeStore): void {
  Deno.removeSync(s.root, { recursive: true });
}

function flipByte(path: string, at: number): void {
  const bytes = Deno.readFileSync(path);
  bytes[at] ^= 0xff;
  Deno.writeFileSync(path, bytes);
}

Deno.test("cli: --help at the top and for every command", async () => {
  const top = await cli("--help");
  assert.equal(top.code, 0);
  for (const name of COMMANDS) assert.ok(top.stdout.includes(`  ${name} `), name);
  const runs = await Promise.all(COMMANDS.map((name) => cli(name, "--help")));
  runs.forEach((run, i) => {
    assert.equal(run.code, 0, COMMANDS[i]);
    assert.ok(run.stdout.startsWith(`Usage: batpak ${COMMANDS[i]}`), run.stdout);
    assert.equal(run.stderr, "");
  });
  const viaHelp = await cli("help", "verify");
  assert.equal(viaHelp.code, 0);
  assert.ok(viaHelp.stdout.startsWith("Usage: batpak verify"));
});

Deno.test("cli: no command prints usage and exits 2", async () => {
  const run = await cli();
  assert.equal(run.code, 2);
  assert.ok(run.stderr.includes("Usage: batpak <command>"));
});

Deno.test("cli: unknown command is one line, exit 2", async () => {
  assertOneLineError(await cli("frobnicate"), 2, "unknown command 'frobnicate'");
});

Deno.test("cli: unknown flags and bad values are one line, exit 2", async () => {
  const s = makeStore(5, 1);
  try {
    const cases: [string[], string][] = [
      [["inspect", s.dir, "--frob"], "unknown option '--frob'"],
      [["verify", s.dir, "-x"], "unknown option '-x'"],
      [["tail", s.dir, "--nope"], "unknown option '--nope'"],
      [["tail", s.dir, "-n", "many"], "option '--lines' needs a non-negative integer"],
      [["dump", s.dir, "--entity"], "argument missing"],
      [["dump", s.dir], "missing option '--entity <entity>' or '--prefix <prefix>'"],
      [["harness", "--seed", "-3"], "option '--seed'"],
      [["harness", "--seed", "abc"], "option '--seed' needs a non-negative integer"],
      [["gates", "--fast"], "unknown option '--fast'"],
      [["inspect"], "missing argument <store>"],
      [["inspect", s.dir, "extra"], "unexpected argument 'extra'"],
      [["gates", "extra"], "unexpected argument 'extra'"],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(...args)));
    runs.forEach((run, i) => assertOneLineError(run, 2, cases[i][1]));
  } finally {
    cleanup(s);
  }
});

Deno.test("cli: a missing directory is one line, exit 1, and is not created", async () => {
  const root = Deno.makeTempDirSync();
  try {
    const missing = join(root, "nope");
    const runs = await Promise.all([
      cli("inspect", missing),
      cli("verify", missing),
      cli("tail", missing),
      cli("dump", missing, "--entity", "x"),
    ]);
    for (const run of runs) assertOneLineError(run, 1, `no such directory: ${missing}`);
    assert.throws(() => Deno.statSync(missing), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("cli: a directory that is not a store is refused and left untouched", async () => {
  const root = Deno.makeTempDirSync();
  try {
    const file = join(root, "file.txt");
    Deno.writeTextFileSync(file, "hi");
    assertOneLineError(await cli("inspect", root), 1, "not a batpak store");
    assertOneLineError(await cli("verify", file), 1, "not a directory");
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), ["file.txt"]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("cli inspect: counts, segments, sizes and open path", async () => {
  const s = makeStore(300, 7, { segmentMaxBytes: 8192 });
  try {
    const run = await cli("inspect", s.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^events\s+300$/m);
    assert.match(run.stdout, /^entities\s+7$/m);
    assert.match(run.stdout, /^open path\s+image \(index image\): 300 restored \+ 0 scanned/m);
    assert.match(run.stdout, /^torn tail\s+none$/m);
    assert.match(run.stdout, /^\s+000001\.fbat\s+\d/m);
    assert.match(run.stdout, /^\s+index\.img\s+\d/m);
    const json = JSON.parse((await cli("inspect", s.dir, "--json")).stdout);
    assert.equal(json.events, 300);
    assert.equal(json.entities, 7);
    assert.ok(json.segments.length > 1, "several segments");
    const sizes = json.segments.map((f: { bytes: number }) => f.bytes);
    assert.ok(sizes.every((b: number) => b > 0));
    assert.equal(json.openReport.path, "image");
  } finally {
    cleanup(s);
  }
});

Deno.test("cli inspect: a torn tail is cut and reported", async () => {
  const s = makeStore(20, 2);
  try {
    const segment = join(s.dir, "000001.fbat");
    const file = Deno.openSync(segment, { append: true });
    file.writeSync(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
    file.close();
    const run = await cli("inspect", s.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^torn tail\s+cut 7 bytes from the last segment$/m);
    assert.match(run.stdout, /^events\s+20$/m);
  } finally {
    cleanup(s);
  }
});

Deno.test("cli verify: a healthy store passes, text and JSON", async () => {
  const s = makeStore(120, 4);
  try {
    const run = await cli("verify", s.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ok: 120 events checked in .*, no problems$/m);
    const json = await cli("verify", s.dir, "--json");
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.eventsChecked, 120);
    assert.deepEqual(report.problems, []);
  } finally {
    cleanup(s);
  }
});

Deno.test("cli verify: a flipped byte in a sealed segment is found, exit 1", async () => {
  const s = makeStore(200, 5, { segmentMaxBytes: 4096 });
  try {
    flipByte(join(s.dir, "000001.fbat"), 200);
    // The index image lets the store open without reading segment 1: verify must still see it.
    const run = await cli("verify", s.dir);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^FAILED: \d+ problem\(s\)/m);
    assert.match(run.stdout, /000001\.fbat at offset \d+: /);
    assertOneLineError(run, 1, "000001.fbat at offset");
    const json = await cli("verify", s.dir, "--json");
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0].file, "000001.fbat");
  } finally {
    cleanup(s);
  }
});

Deno.test("cli: a corrupt sealed segment that fails the open is one line, exit 1", async () => {
  const s = makeStore(200, 5, { segmentMaxBytes: 4096 });
  try {
    flipByte(join(s.dir, "000001.fbat"), 200);
    Deno.removeSync(join(s.dir, "index.img")); // force the full scan, which fails closed
    // One at a time: each open takes the directory lock.
    for (const args of [["inspect"], ["tail"], ["dump", "--entity", "account:1"]]) {
      const [command, ...rest] = args;
      const run = await cli(command, s.dir, ...rest);
      assertOneLineError(run, 1, /corrupt segment 000001\.fbat at offset \d+/);
    }
    const verify = await cli("verify", s.dir, "--json");
    assert.equal(verify.code, 1);
    const report = JSON.parse(verify.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.problems.length, 1);
    assert.equal(report.problems[0].file, "000001.fbat");
    assert.doesNotMatch(report.problems[0].message, /^corrupt segment/);
  } finally {
    cleanup(s);
  }
});

Deno.test("cli: inspect, verify, tail and dump work beside a process that holds the store open", async () => {
  const s = makeStore(10, 2);
  const holder = Store.open(s.dir); // this process holds the lock
  try {
    const runs = await Promise.all([
      cli("inspect", s.dir),
      cli("verify", s.dir),
      cli("tail", s.dir),
      cli("dump", s.dir, "--entity", "account:0"),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, "");
    }
    assert.ok(runs[2].stdout.trimEnd().split("\n").at(-1)!.startsWith("#10 "));
    // They opened read-only: the holder can still write.
    holder.append(new Coordinate("account:0", "bank"), KIND, { after: true });
  } finally {
    holder.close();
    cleanup(s);
  }
});

Deno.test("cli tail: last events, -n, --entity, --json", async () => {
  const s = makeStore(30, 3);
  try {
    const run = await cli("tail", s.dir);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 10);
    assert.match(lines[0], /^#21 {2}\S+Z {2}account:2 @ bank {2}seq 7 {2}kind 0x1001 {2}\{"i":20,/);
    assert.ok(lines[9].startsWith("#30 "));
    assert.ok(lines[9].includes(`"big":"${2n ** 60n}"`), "bigint as a string");
    assert.ok(lines[9].includes(`"bytes":{"$base64":"AQID"}`), "bytes as base64");

    const three = (await cli("tail", s.dir, "-n", "3", "--entity", "account:1")).stdout;
    assert.deepEqual(
      three.trimEnd().split("\n").map((l) => l.split(" ")[0]),
      ["#23", "#26", "#29"],
    );

    const json = await cli("tail", s.dir, "--lines", "2", "--json");
    const events = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.globalSequence), [29, 30]);
    assert.equal(events[1].entity, "account:2");
    assert.deepEqual(events[1].payload.i, 29);

    const none = await cli("tail", s.dir, "--entity", "nobody");
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "");
  } finally {
    cleanup(s);
  }
});

Deno.test("cli tail --follow: follows another process's appends without a lock, exits 0 on SIGINT", async () => {
  const s = makeStore(5, 1);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "tail", s.dir, "--follow", "-n", "2"],
    cwd: ROOT,
    env: childEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const readLines = async (n: number) => {
      while (seen.trimEnd().split("\n").length < n) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
    };
    await readLines(2);
    assert.deepEqual(seen.trimEnd().split("\n").map((l) => l.split(" ")[0]), ["#4", "#5"]);
    // The writer is another open Store (this process); tail holds no lock.
    const writer = Store.open(s.dir);
    writer.append(new Coordinate("account:0", "bank"), KIND, { late: 1 });
    writer.append(new Coordinate("account:0", "bank"), KIND, { late: 2 });
    writer.sync();
    await readLines(4);
    assert.deepEqual(seen.trimEnd().split("\n").map((l) => l.split(" ")[0]), [
      "#4",
      "#5",
      "#6",
      "#7",
    ]);
    writer.close();
    child.kill("SIGINT");
    const rest = await reader.read();
    assert.ok(rest.done || rest.value === "");
    const status = await child.status;
    assert.equal(status.code, 0);
    assert.equal(new TextDecoder().decode(await new Response(child.stderr).bytes()), "");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    cleanup(s);
  }
});

Deno.test("cli tail: followEvents prints events appended after it starts", async () => {
  const s = makeStore(3, 1);
  const store = Store.open(s.dir);
  try {
    const seen: StoredEvent[] = [];
    const stop = new AbortController();
    const following = followEvents(store, Region.entity("account:"), 3, (e) => {
      seen.push(e);
      if (seen.length === 2) stop.abort();
    }, stop.signal);
    store.append(new Coordinate("other", "bank"), KIND, { skip: true });
    store.append(new Coordinate("account:9", "bank"), KIND, { n: 1 });
    store.append(new Coordinate("account:9", "bank"), KIND, { n: 2 });
    await following;
    assert.deepEqual(seen.map((e) => e.payload), [{ n: 1 }, { n: 2 }]);
  } finally {
    store.close();
    cleanup(s);
  }
});

Deno.test("cli dump: every event of an entity, text and JSON", async () => {
  const s = makeStore(20, 4);
  try {
    const run = await cli("dump", s.dir, "--entity", "account:3");
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.startsWith("account:3: 5 event(s)\n"));
    assert.equal(run.stdout.match(/^seq \d+ /gm)?.length, 5);
    assert.match(run.stdout, /^ {2}prevHash\s+-$/m);
    assert.match(run.stdout, /^ {2}eventHash\s+[0-9a-f]{64}$/m);

    const json = await cli("dump", s.dir, "--entity", "account:3", "--json");
    assert.equal(json.code, 0);
    const events = JSON.parse(json.stdout);
    assert.deepEqual(events.map((e: StoredEvent) => e.sequence), [1, 2, 3, 4, 5]);
    assert.equal(events[1].prevHash, events[0].eventHash);
    assert.deepEqual(events[0].payload, {
      i: 3,
      big: String(2n ** 60n),
      bytes: { $base64: "AQID" },
    });

    const prefixOnly = await cli("dump", s.dir, "--entity", "account:");
    assertOneLineError(prefixOnly, 1, 'entity "account:" has no events');
  } finally {
    cleanup(s);
  }
});

/** acct:1 ×3, acct:10 ×2, acct:2 ×1, interleaved: a prefix and an exact name differ. */
function makePrefixStore(): MadeStore {
  const root = Deno.makeTempDirSync({ prefix: "batpak-cli-test-" });
  const dir = join(root, "store");
  const store = Store.open(dir);
  for (const entity of ["acct:1", "acct:10", "acct:1", "acct:2", "acct:10", "acct:1"]) {
    store.append(new Coordinate(entity, "bank"), KIND, { entity });
  }
  store.close();
  return { dir, root };
}

const entityOf = (line: string) => line.split("  ")[2].split(" @ ")[0];

Deno.test("cli: --entity is exactly one entity and --prefix a prefix, in tail and dump", async () => {
  const s = makePrefixStore();
  try {
    const [exact, prefix, lastTwo, everything] = await Promise.all([
      cli("tail", s.dir, "--entity", "acct:1"),
      cli("tail", s.dir, "--prefix", "acct:1"),
      cli("tail", s.dir, "--entity", "acct:1", "-n", "2", "--json"),
      cli("tail", s.dir, "--prefix", "acct:", "-n", "100"),
    ]);
    for (const run of [exact, prefix, lastTwo, everything]) assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(exact.stdout.trimEnd().split("\n").map(entityOf), [
      "acct:1",
      "acct:1",
      "acct:1",
    ]);
    assert.deepEqual(prefix.stdout.trimEnd().split("\n").map(entityOf), [
      "acct:1",
      "acct:10",
      "acct:1",
      "acct:10",
      "acct:1",
    ]);
    const two = lastTwo.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(two.map((e) => [e.entity, e.sequence, e.globalSequence]), [
      ["acct:1", 2, 3],
      ["acct:1", 3, 6],
    ]);
    assert.equal(everything.stdout.trimEnd().split("\n").length, 6);

    const [dumpExact, dumpPrefix, dumpPrefixText, dumpNone, dumpNoPrefix] = await Promise.all([
      cli("dump", s.dir, "--entity", "acct:1", "--json"),
      cli("dump", s.dir, "--prefix", "acct:1", "--json"),
      cli("dump", s.dir, "--prefix", "acct:1"),
      cli("dump", s.dir, "--entity", "acct"),
      cli("dump", s.dir, "--prefix", "zzz"),
    ]);
    const pairs = (run: { stdout: string }) =>
      JSON.parse(run.stdout).map((e: StoredEvent) => `${e.entity}#${e.sequence}`);
    assert.deepEqual(pairs(dumpExact), ["acct:1#1", "acct:1#2", "acct:1#3"]);
    assert.deepEqual(pairs(dumpPrefix), [
      "acct:1#1",
      "acct:1#2",
      "acct:1#3",
      "acct:10#1",
      "acct:10#2",
    ]);
    assert.equal(dumpPrefixText.code, 0, dumpPrefixText.stderr);
    assert.match(dumpPrefixText.stdout, /^acct:1: 3 event\(s\)$/m);
    assert.match(dumpPrefixText.stdout, /^acct:10: 2 event\(s\)$/m);
    assert.equal(dumpPrefixText.stdout.match(/^seq \d+ /gm)?.length, 5);
    assertOneLineError(dumpNone, 1, 'entity "acct" has no events');
    assertOneLineError(dumpNoPrefix, 1, 'no events of entities starting with "zzz"');
  } finally {
    cleanup(s);
  }
});

Deno.test("cli: --entity with --prefix, or an empty one, is a usage error (exit 2)", async () => {
  const s = makeStore(3, 1);
  try {
    const cases: [string[], string][] = [
      [["tail", s.dir, "--entity", "a", "--prefix", "a"], "cannot be combined"],
      [["dump", s.dir, "--entity", "a", "--prefix", "a"], "cannot be combined"],
      [["tail", s.dir, "--entity", ""], "option '--entity' needs an entity name"],
      [["dump", s.dir, "--entity="], "option '--entity' needs an entity name"],
      [["tail", s.dir, "--prefix", ""], "option '--prefix' needs a non-empty prefix"],
      [["dump", s.dir, "--prefix", ""], "option '--prefix' needs a non-empty prefix"],
      [["tail", s.dir, "--prefix"], "argument missing"],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(...args)));
    runs.forEach((run, i) => assertOneLineError(run, 2, cases[i][1]));
  } finally {
    cleanup(s);
  }
});

Deno.test("cli tail: followEvents on an exact entity skips entities that only share its prefix", async () => {
  const s = makePrefixStore();
  const store = Store.open(s.dir);
  try {
    const seen: StoredEvent[] = [];
    const stop = new AbortController();
    const following = followEvents(store, Region.stream("acct:1"), 6, (e) => {
      seen.push(e);
      if (seen.length === 1) stop.abort();
    }, stop.signal);
    store.append(new Coordinate("acct:10", "bank"), KIND, { skip: true });
    store.append(new Coordinate("acct:1", "bank"), KIND, { take: true });
    await following;
    assert.deepEqual(seen.map((e) => [e.entity, e.payload]), [["acct:1", { take: true }]]);
  } finally {
    store.close();
    cleanup(s);
  }
});

Deno.test("cli: a relative <store> is where the user typed the command (INIT_CWD), also under deno task", async () => {
  const s = makeStore(4, 2);
  try {
    // deno task runs in the package's folder and sets INIT_CWD to the folder it was typed in.
    const viaTask = await runCommand(
      [Deno.execPath(), "task", "--config", join(ROOT, "deno.json"), "cli", "inspect", "./store"],
      { cwd: s.root },
    );
    assert.equal(viaTask.code, 0, viaTask.stderr);
    assert.match(viaTask.stdout, new RegExp(`^store\\s+${join(s.root, "store")}$`, "m"));
    assert.match(viaTask.stdout, /^events\s+4$/m);
    const viaEnv = await cliIn({ cwd: ROOT, env: { INIT_CWD: s.root } }, "verify", "store");
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /^ok: 4 events checked/m);
    const plain = await cliIn({ cwd: s.root }, "tail", "./store", "-n", "1");
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(plain.stdout.startsWith("#4 "), plain.stdout);
    const missing = await cliIn({ cwd: ROOT, env: { INIT_CWD: s.root } }, "inspect", "./nope");
    assertOneLineError(missing, 1, `no such directory: ${join(s.root, "nope")}`);
  } finally {
    cleanup(s);
  }
});

Deno.test("cli: <store> arguments: paths against INIT_CWD, postgres:// URLs with ?schema=", () => {
  assert.equal(resolveUserPath("./data", "/home/me"), "/home/me/data");
  assert.equal(resolveUserPath("../data", "/home/me/app"), "/home/me/data");
  assert.equal(resolveUserPath("/srv/data", "/home/me"), "/srv/data");
  // No base (INIT_CWD unset; passing undefined would take the default, which reads it).
  assert.equal(resolveUserPath("data", ""), "data");
  assert.deepEqual(parseTarget("./data", "/home/me"), {
    kind: "dir",
    dir: "/home/me/data",
    label: "/home/me/data",
  });
  assert.deepEqual(
    parseTarget("postgres://app:secret@db:5433/shop?schema=orders&sslmode=disable"),
    {
      kind: "postgres",
      url: "postgres://app:secret@db:5433/shop?sslmode=disable",
      schema: "orders",
      label: "postgres://app@db:5433/shop?schema=orders",
    },
  );
  const plain = parseTarget("postgresql://db/shop");
  assert.equal(plain.kind === "postgres" && plain.schema, "batpak");
  assert.equal(plain.label, "postgresql://db/shop?schema=batpak");
  for (
    const [arg, text] of [
      ["postgres://db/shop?schema=Orders", "needs a PostgreSQL schema name"],
      ["postgres://db/shop?schema=", "needs a PostgreSQL schema name"],
      ["postgres://db/shop?schema=a&schema=b", "more than one 'schema='"],
      ["postgres://[bad/shop", "not a valid URL"],
    ]
  ) {
    assert.throws(
      () => parseTarget(arg),
      (e: Error) => e.name === "UsageError" && e.message.includes(text),
      arg,
    );
  }
});

Deno.test("cli gates: every correctness gate passes on a fresh store", async () => {
  const run = await cli("gates");
  assert.equal(run.code, 0, run.stderr);
  for (
    const name of [
      "cas_rejects_stale",
      "idempotency_dedupes",
      "batch_all_or_nothing",
      "cursor_sees_all",
      "verify_ok",
    ]
  ) {
    assert.match(run.stdout, new RegExp(`^pass  ${name} `, "m"));
  }
  assert.match(run.stdout, /^5\/5 correctness gates passed$/m);
});

Deno.test("cli harness: the M37 matrix, deterministic per seed, text and Markdown", async () => {
  const run = await cli("harness", "--seed", "7");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^scenario\s+result\s+deterministic\s+invariants\s+budget$/m);
  for (
    const scenario of [
      "ownership_fencing_contention",
      "lease_renewal_contention",
      "takeover_queue_retry_pressure",
      "checkpoint_replay_windows",
    ]
  ) {
    assert.match(run.stdout, new RegExp(`^${scenario}\\s+pass\\s+yes\\s+met\\s+within$`, "m"));
  }
  assert.match(run.stdout, /^4\/4 scenarios passed, 0 budget\(s\) exceeded/m);
  const digest = (text: string) => text.match(/^report digest: ([0-9a-f]{16}) /m)?.[1];
  assert.ok(digest(run.stdout));
  const again = await cli("harness", "--seed", "7");
  assert.equal(digest(again.stdout), digest(run.stdout), "same seed, same report");

  const snapshot = await cli("harness", "--markdown");
  assert.equal(snapshot.code, 0, snapshot.stderr);
  assert.equal(snapshot.stdout, snapshotReportMarkdown());
  const seeded = await cli("harness", "--markdown", "--seed", "7");
  assert.ok(seeded.stdout.startsWith("# M37 contention matrix, seed 7\n"));
  assert.match(seeded.stdout, /^\| ownership_fencing_contention \| pass \|/m);

  assertOneLineError(await cli("harness", "--seed", "4294967296"), 2, "up to 4294967295");
});

Deno.test("cli: main() in-process reports errors on its io and never throws", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    out: (t: string) => out.push(t),
    err: (t: string) => err.push(t),
    errIsTerminal: false,
  };
  assert.equal(await main(["inspect", "/definitely/not/here"], io), 1);
  assert.deepEqual(err, ["batpak inspect: no such directory: /definitely/not/here\n"]);
  assert.equal(await main(["--help"], io), 0);
  assert.ok(out.join("").includes("Usage: batpak <command>"));
});
