// The store in headless Chromium on OPFS: the conformance suite in a dedicated worker (the
// embedded Store) and through BrowserStore on the page (against the built bundle as its
// worker); reopen after a reload, a closed tab and a crashed renderer with nothing durable
// lost and verify() clean; a torn tail cut; the three open paths; the lock; the quota.
import assert from "node:assert/strict";
import { build } from "./build.ts";
import {
  type BrowserSession,
  chromiumOrSkip,
  type HarnessPage,
  startBrowser,
  WorkerCallError,
} from "./_harness.ts";

const chromium = chromiumOrSkip("tests/browser/store_test.ts");
const here = (file: string) => new URL(file, import.meta.url).pathname;
const code = (c: string) => (e: unknown) => e instanceof WorkerCallError && e.code === c;

interface Check {
  diagnostics: { events: number; openReport: { path: string }; segments: number };
  verify: { ok: boolean; eventsChecked: number; problems: unknown[] };
}

if (chromium !== undefined) {
  Deno.test({
    name: "store on OPFS in Chromium",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const out = `${Deno.makeTempDirSync({ prefix: "batpak_dist_" })}/batpak.browser.js`;
      const built = await build(out);
      assert.ok(built.ok, built.report);
      const session = await startBrowser({
        chromium,
        entries: { store: here("./_store_worker.ts"), client: here("./_client_page.ts") },
        routes: {
          "/dist/batpak.browser.js": { body: Deno.readFileSync(out), type: "text/javascript" },
        },
      });
      try {
        await conformanceInWorker(t, session);
        await conformanceThroughClient(t, session);
        await durability(t, session);
      } finally {
        await session.close();
        Deno.removeSync(out.slice(0, out.lastIndexOf("/")), { recursive: true });
      }
    },
  });
}

async function conformanceInWorker(t: Deno.TestContext, session: BrowserSession): Promise<void> {
  const page = await session.page();
  const worker = await page.spawn("store");
  for (const name of await worker.call<string[]>("conformanceNames")) {
    await t.step(`conformance in a worker: ${name}`, () => worker.call("conformance", name));
  }
  await page.assertClean();
  await page.close();
}

async function conformanceThroughClient(
  t: Deno.TestContext,
  session: BrowserSession,
): Promise<void> {
  const page = await session.page();
  for (const name of await page.callModule<string[]>("client", "conformanceNames")) {
    await t.step(
      `conformance through BrowserStore: ${name}`,
      () => page.callModule("client", "conformance", name, "/dist/batpak.browser.js"),
    );
  }
  await t.step("a second BrowserStore on the same pool gets StoreLockedError", async () => {
    assert.equal(
      await page.callModule("client", "lockedCode", "locked-client", "/dist/batpak.browser.js"),
      "STORE_LOCKED",
    );
  });
  await page.assertClean();
  await page.close();
  await t.step(
    "a second tab: StoreLockedError saying what to do, and lockWaitMs works",
    () => lockAcrossTabs(session),
  );
}

/** The store held by one tab, as a user of a second tab of the same origin meets it. */
async function lockAcrossTabs(session: BrowserSession): Promise<void> {
  const dist = "/dist/batpak.browser.js";
  const pool = "tabs";
  const first = await session.page();
  const second = await session.page();
  await first.callModule("client", "holdStore", pool, dist, 3);
  const seen = await second.callModule<Record<string, unknown>>(
    "client",
    "lockedError",
    pool,
    dist,
  );
  assert.deepEqual(
    { ...seen, message: undefined },
    {
      isStoreLockedError: true, // the class, rebuilt on the page from the worker's error
      name: "StoreLockedError",
      code: "STORE_LOCKED",
      dataDir: "opfs:tabs",
      message: undefined,
    },
  );
  const message = String(seen.message);
  assert.match(message, /another tab or worker of this origin/);
  assert.match(message, /BrowserStore\.close\(\)/);
  assert.match(message, /lockWaitMs/);
  const waited = await second.callModule<{ message: string }>(
    "client",
    "lockedError",
    pool,
    dist,
    300,
  );
  assert.match(waited.message, /still held after waiting 300 ms/);
  // What the message suggests: wait for the other tab, which then closes its store.
  await second.callModule("client", "startWaitingOpen", pool, dist, 20_000);
  await new Promise((r) => setTimeout(r, 300));
  await first.callModule("client", "releaseStore");
  assert.equal(await second.callModule("client", "finishWaitingOpen"), 3);
  // And closing the tab frees it as well.
  await first.callModule("client", "holdStore", pool, dist, 0);
  await first.close();
  assert.equal(
    await second.callModule("client", "lockedError", pool, dist, 10_000),
    undefined,
    "opens once the holding tab is closed",
  );
  await second.assertClean(); // no unhandled rejection, no console error: only the typed error
  await second.close();
}

/** Open the pool in a fresh worker of `page` and check it. */
async function reopen(page: HarnessPage, pool: string, config = {}): Promise<Check> {
  const worker = await page.spawn("store");
  await worker.call("openStore", pool, config);
  const check = await worker.call<Check>("check");
  await worker.call("close");
  return check;
}

const durableSoFar = (page: HarnessPage): number =>
  Math.max(0, ...page.progress.map((p) => (p as { durable: number }).durable));

async function durability(t: Deno.TestContext, session: BrowserSession): Promise<void> {
  await t.step("a reload reopens with everything durable present and verify() clean", async () => {
    const page = await session.page();
    const worker = await page.spawn("store");
    await worker.call("openStore", "reload", { segmentMaxBytes: 64 * 1024 });
    const last = await worker.call<number>("write", "a", 3_000, 100);
    await page.reload(); // no close: the worker dies with the page
    const check = await reopen(page, "reload");
    assert.equal(check.diagnostics.events, last);
    assert.ok(check.diagnostics.segments > 1, "rotated across segments");
    assert.ok(check.verify.ok, JSON.stringify(check.verify.problems));
    await page.assertClean();
    await page.close();
  });

  for (const how of ["Page.crash", "closing the tab"] as const) {
    await t.step(`${how} mid-write loses nothing acknowledged durable`, async () => {
      const page = await session.page();
      await page.listen();
      const pool = `kill-${how === "Page.crash" ? "crash" : "close"}`;
      const worker = await page.spawn("store");
      await worker.call("openStore", pool, { segmentMaxBytes: 256 * 1024 });
      worker.fire("writeForever", "k", 50);
      const deadline = Date.now() + 10_000;
      while (durableSoFar(page) < 2_000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const acknowledged = durableSoFar(page);
      assert.ok(acknowledged >= 2_000, `only ${acknowledged} durable in 10 s`);
      if (how === "Page.crash") await page.crash();
      await page.close();
      const tab = await session.page();
      const check = await reopen(tab, pool);
      assert.ok(
        check.diagnostics.events >= acknowledged,
        `${check.diagnostics.events} events after reopen, ${acknowledged} were acknowledged durable`,
      );
      assert.ok(check.verify.ok, JSON.stringify(check.verify.problems));
      await tab.assertClean();
      await tab.close();
    });
  }

  await t.step("a torn tail is cut back to the last whole frame", async () => {
    const page = await session.page();
    const worker = await page.spawn("store");
    await worker.call("openStore", "torn");
    const last = await worker.call<number>("write", "t", 100, 10);
    await worker.call("tearTail", 37);
    await worker.terminate(); // dies without closing
    const check = await reopen(page, "torn");
    assert.equal(check.diagnostics.events, last);
    assert.ok(check.verify.ok, JSON.stringify(check.verify.problems));
    const again = await page.spawn("store");
    await again.call("openStore", "torn");
    assert.equal(await again.call("append", "t", 5), last + 1, "appends continue after the cut");
    await again.call("close");
    await page.assertClean();
    await page.close();
  });

  await t.step("all three open paths: image, checkpoint, rebuild", async () => {
    const page = await session.page();
    const worker = await page.spawn("store");
    // A checkpoint is written while appending, once enough events are new.
    await worker.call("openStore", "paths", { enableMmapIndex: false });
    const last = await worker.call<number>("write", "p", 70_000, 10_000, 8);
    await worker.call("close");
    const paths: string[] = [];
    const configs = [
      { enableMmapIndex: false },
      {}, // the image is written at this close
      {},
      { enableMmapIndex: false, enableCheckpoint: false },
    ];
    for (const config of configs) {
      const check = await reopen(page, "paths", config);
      assert.equal(check.diagnostics.events, last);
      assert.ok(check.verify.ok);
      paths.push(check.diagnostics.openReport.path);
    }
    assert.equal(paths[0], "checkpoint");
    assert.match(paths[2], /^(image|mmap)$/); // the image path's name is being changed
    assert.equal(paths[3], "rebuild");
    await page.assertClean();
    await page.close();
  });

  await t.step("a snapshot to another OPFS directory opens as a store", async () => {
    const page = await session.page();
    const worker = await page.spawn("store");
    await worker.call("openStore", "snap", { segmentMaxBytes: 16 * 1024 });
    const last = await worker.call<number>("write", "s", 1_000, 100);
    assert.deepEqual(await worker.call("snapshot", "/backup"), { events: last, ok: true });
    await worker.call("close");
    await page.assertClean();
    await page.close();
  });

  await t.step("a second worker gets StoreLockedError", async () => {
    const page = await session.page();
    const holder = await page.spawn("store");
    await holder.call("openStore", "lock");
    const rival = await page.spawn("store");
    await assert.rejects(
      rival.call("openStore", "lock", {}, 0),
      (e: unknown) => code("STORE_LOCKED")(e) && /another tab or worker/.test(String(e)),
    );
    await holder.call("close");
    await page.assertClean();
    await page.close();
  });

  await t.step("past the quota an append is StorageFullError; reads go on", async () => {
    const page = await session.page();
    const worker = await page.spawn("store");
    await worker.call("openStore", "full");
    const last = await worker.call<number>("write", "f", 100, 10);
    await page.setQuota(1024 * 1024);
    try {
      await assert.rejects(worker.call("append", "f", 3 * 1024 * 1024), code("STORAGE_FULL"));
      assert.equal(await worker.call("lastSequence", "f"), last);
      assert.equal((await worker.call<number[]>("readStream", "f")).length, last);
    } finally {
      await page.setQuota(undefined);
    }
    await worker.call("close");
    const check = await reopen(page, "full");
    assert.equal(check.diagnostics.events, last);
    assert.ok(check.verify.ok);
    await page.assertClean();
    await page.close();
  });
}
