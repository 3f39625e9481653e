// Page module of tests/browser/store_test.ts: the conformance suite through BrowserStore, the
// main-thread client, against the built bundle running as its worker.
import { BrowserStore } from "../../src/browser/client.ts";
import { Coordinate } from "../../src/core/coordinate.ts";
import { StoreLockedError } from "../../src/core/errors.ts";
import { EventKind } from "../../src/core/kind.ts";
import type { EventStore } from "../../src/core/types.ts";
import { CONFORMANCE_CASES, newContext } from "../conformance/cases.ts";

const FEATURES = { gaplessGlobalSequence: true, concurrentHandles: false };

export function conformanceNames(): string[] {
  return CONFORMANCE_CASES.map((c) => c.name);
}

/** Run one case; every `open` is a BrowserStore on a fresh worker of `workerUrl`. */
export async function conformance(name: string, workerUrl: string): Promise<void> {
  const c = CONFORMANCE_CASES.find((c) => c.name === name)!;
  const ctx = newContext(FEATURES);
  const pool = `client-${crypto.randomUUID()}`;
  let current: BrowserStore | undefined;
  const advance = ctx.clock.advance.bind(ctx.clock);
  // The store's clock lives in the worker: each move of the case's clock follows it there.
  ctx.clock.advance = (ms: number) => {
    advance(ms);
    current?.setClock(ctx.clock.nowMs).catch(() => {});
  };
  await c.run(async () => {
    current = await BrowserStore.open({
      name: pool,
      worker: new URL(workerUrl, location.href),
      manualClockMs: ctx.clock.nowMs,
      lockWaitMs: 5_000,
    });
    return current as EventStore;
  }, ctx);
  await current?.close();
  const root = await (navigator as unknown as {
    storage: {
      getDirectory(): Promise<{ removeEntry(n: string, o: { recursive: boolean }): Promise<void> }>;
    };
  }).storage.getDirectory();
  await root.removeEntry(pool, { recursive: true });
}

/** Open a second client on `pool` while the first holds it: the error's code. */
export async function lockedCode(pool: string, workerUrl: string): Promise<string | undefined> {
  const first = await BrowserStore.open({ name: pool, worker: new URL(workerUrl, location.href) });
  try {
    await BrowserStore.open({ name: pool, worker: new URL(workerUrl, location.href) });
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  } finally {
    await first.close();
  }
}

// --- A store held by one tab, as another tab sees it (module state lives with the page).

let held: BrowserStore | undefined;
let waiting: Promise<BrowserStore> | undefined;

/** Open `pool` in this tab and keep it open; append `events` events to entity "held". */
export async function holdStore(pool: string, workerUrl: string, events: number): Promise<void> {
  held = await BrowserStore.open({ name: pool, worker: new URL(workerUrl, location.href) });
  for (let i = 0; i < events; i++) {
    await held.append(new Coordinate("held", "tabs"), EventKind.custom(1, 1), { i });
  }
  await held.durable();
}

/** Close what {@linkcode holdStore} opened. */
export async function releaseStore(): Promise<void> {
  await held?.close();
  held = undefined;
}

/** What a user of this tab sees when `pool` is open in another tab: the error, as data. */
export async function lockedError(pool: string, workerUrl: string, lockWaitMs = 0) {
  try {
    const store = await BrowserStore.open({
      name: pool,
      worker: new URL(workerUrl, location.href),
      lockWaitMs,
    });
    await store.close();
    return undefined;
  } catch (e) {
    const err = e as StoreLockedError;
    return {
      isStoreLockedError: e instanceof StoreLockedError,
      name: err.name,
      code: err.code,
      dataDir: err.dataDir,
      message: err.message,
    };
  }
}

/** Start opening `pool`, waiting up to `lockWaitMs` for another tab to release it. */
export function startWaitingOpen(pool: string, workerUrl: string, lockWaitMs: number): void {
  waiting = BrowserStore.open({
    name: pool,
    worker: new URL(workerUrl, location.href),
    lockWaitMs,
  });
  waiting.catch(() => {}); // awaited by finishWaitingOpen
}

/** Finish {@linkcode startWaitingOpen}: the events of entity "held" it finds, then close. */
export async function finishWaitingOpen(): Promise<number> {
  const store = await waiting!;
  try {
    return (await store.readStream("held")).length;
  } finally {
    await store.close();
  }
}
