/**
 * The worker side of {@linkcode BrowserStore}: a `Store` on the Origin
 * Private File System, in a dedicated worker, answering a client over
 * `postMessage`. {@linkcode serveStore} starts answering; the store opens
 * when the client asks for it.
 *
 * A snapshot needs one new file per segment: the worker awaits the OPFS
 * pool's `reserve` before calling `store.snapshot`, so the synchronous copy
 * never finds the pool empty.
 *
 * @module
 */

import { InvalidArgumentError, StoreError } from "../core/errors.ts";
import type { EventStore, StoredEvent } from "../core/types.ts";
import { OpfsFileSystem } from "../fs/opfs.ts";
import { Store } from "../store/store.ts";
import {
  coordinateFromWire,
  errorToWire,
  type FromWorker,
  regionFromWire,
  SUBSCRIPTION_BATCH_EVENTS,
  toPlain,
  type ToWorker,
  type WireRegion,
} from "./_protocol.ts";

/** What the client asks the worker to open. */
export interface OpenRequest {
  /** OPFS pool name (default `"batpak"`). */
  name?: string;
  /** The store's directory inside the pool (default `"/"`). */
  dataDir?: string;
  /** Store settings (anything of `StoreConfig` but `dataDir`, `fs` and `clock`). */
  store?: Record<string, unknown>;
  /** Wait this long for another tab to release the pool (default 0). */
  lockWaitMs?: number;
  /** Spare files of the pool. */
  spares?: number;
  /** Use a clock the client sets (`setClock`), starting here: for deterministic tests. */
  manualClockMs?: number;
}

/** The part of a worker's global scope used here. */
export interface WorkerPort {
  /** Send a message to the client. */
  postMessage(message: unknown): void;
  /** Receive the client's messages. */
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

/** Unsent credit: batches a subscription may have in flight before the client acknowledges. */
const SUBSCRIPTION_WINDOW_BATCHES = 2;
/** Spare files kept beyond a snapshot's segment count. */
const SNAPSHOT_SPARE_MARGIN = 4;

type StoreOp = (store: Store, args: unknown[]) => unknown;

/** The calls a client may make, with how their arguments are rebuilt. */
const STORE_OPS: Readonly<Record<string, StoreOp>> = {
  append: (s, [coord, kind, payload, options]) =>
    s.append(coordinateFromWire(coord), kind as never, payload, options as never),
  appendBatch: (s, [items]) =>
    s.appendBatch(
      Array.isArray(items)
        ? items.map((item) =>
          item !== null && typeof item === "object"
            ? { ...item, coord: coordinateFromWire((item as { coord: unknown }).coord) }
            : item
        )
        : items as never,
    ),
  durable: (s) => s.durable(),
  sync: (s) => s.sync(),
  get: (s, [id]) => s.get(id as string),
  readStream: (s, [entity, options]) => s.readStream(entity as string, options as never),
  lastSequence: (s, [entity]) => s.lastSequence(entity as string),
  read: (s, [region, options]) =>
    (s as unknown as EventStore).read(regionFromWire(region as WireRegion), options as never),
  query: (s, [region]) => s.query(regionFromWire(region as WireRegion)),
  saveCursor: (s, [name, position]) =>
    (s as unknown as EventStore).saveCursor(name as string, position as number),
  loadCursor: (s, [name]) => (s as unknown as EventStore).loadCursor(name as string),
  verify: (s) => s.verify(),
  diagnostics: (s) => s.diagnostics(),
};

const OWNERSHIP_METHODS: ReadonlySet<string> = new Set([
  "claim",
  "renew",
  "takeover",
  "release",
  "current",
]);

/**
 * Serve a store to a {@linkcode BrowserStore} client over `port` (default:
 * this worker's global scope). Call it once at the top of a dedicated
 * module worker; the bundle `dist/batpak.browser.js` also calls it by
 * itself when it is loaded as a worker named `batpak-store` (what
 * `BrowserStore.open` does when given no worker).
 *
 * @example worker.js
 * ```ts ignore
 * import { serveStore } from "./batpak.browser.js";
 * serveStore();
 * ```
 */
export function serveStore(port: WorkerPort = globalThis as unknown as WorkerPort): void {
  let store: Store | undefined;
  let fs: OpfsFileSystem | undefined;
  let now = 0;
  const subscriptions = new Map<number, { stop: AbortController; ack: () => void }>();
  const post = (message: FromWorker) => port.postMessage(message);

  const open = async (request: OpenRequest = {}): Promise<unknown> => {
    if (store !== undefined) throw new InvalidArgumentError("this worker already serves a store");
    fs = await OpfsFileSystem.open(request.name, {
      lockWaitMs: request.lockWaitMs,
      spares: request.spares,
    });
    try {
      const manual = request.manualClockMs;
      if (manual !== undefined) now = manual;
      store = Store.open({
        ...(request.store ?? {}),
        dataDir: request.dataDir ?? "/",
        fs,
        ...(manual !== undefined ? { clock: () => now } : {}),
      } as never) as Store;
    } catch (err) {
      fs.close();
      fs = undefined;
      throw err;
    }
    return { pool: fs.label };
  };

  const close = async (): Promise<void> => {
    for (const sub of subscriptions.values()) sub.stop.abort();
    const s = store;
    const f = fs;
    store = undefined;
    fs = undefined;
    try {
      s?.close();
    } finally {
      f?.close();
      await f?.settled();
    }
  };

  const call = async (op: string, args: unknown[]): Promise<unknown> => {
    if (op === "open") return await open(args[0] as OpenRequest);
    if (op === "close") return await close();
    if (op === "setClock") {
      now = args[0] as number;
      return undefined;
    }
    if (store === undefined) {
      throw new StoreError("STORE_CLOSED", "the store is not open in this worker");
    }
    if (op === "snapshot") {
      // One new file per segment: grow the pool first, so the synchronous copy cannot run dry.
      await fs!.reserve(store.diagnostics().segments + SNAPSHOT_SPARE_MARGIN);
      return store.snapshot(args[0] as string);
    }
    if (op === "ownership") {
      const [scope, method, ...rest] = args as [string, string, ...unknown[]];
      if (!OWNERSHIP_METHODS.has(method)) {
        throw new InvalidArgumentError(`ownership has no method "${method}"`);
      }
      const ownership = store.ownership(scope) as unknown as Record<
        string,
        (...a: unknown[]) => unknown
      >;
      return await ownership[method](...rest);
    }
    const fn = STORE_OPS[op];
    if (fn === undefined) throw new InvalidArgumentError(`the store has no operation "${op}"`);
    return await fn(store, args);
  };

  const subscribe = async (sub: number, region: WireRegion | undefined, after?: number) => {
    const stop = new AbortController();
    let credit = SUBSCRIPTION_WINDOW_BATCHES;
    let wake: (() => void) | undefined;
    const ack = () => {
      credit++;
      wake?.();
      wake = undefined;
    };
    subscriptions.set(sub, { stop, ack });
    stop.signal.addEventListener("abort", () => wake?.());
    let batch: StoredEvent[] = [];
    const idle = () => new Promise<"idle">((resolve) => setTimeout(() => resolve("idle"), 0));
    const send = async () => {
      while (credit === 0 && !stop.signal.aborted) {
        await new Promise<void>((resolve) => wake = resolve);
      }
      if (stop.signal.aborted || batch.length === 0) return;
      credit--;
      post({ type: "events", sub, events: batch });
      batch = [];
    };
    let error: unknown;
    try {
      if (store === undefined) throw new StoreError("STORE_CLOSED", "the store is not open");
      const it = store.subscribe(regionFromWire(region), { after, signal: stop.signal })[
        Symbol.asyncIterator
      ]();
      try {
        while (!stop.signal.aborted) {
          const next = it.next();
          // Send what has gathered once the subscription has nothing ready.
          let r = batch.length > 0 ? await Promise.race([next, idle()]) : await next;
          if (r === "idle") {
            await send();
            r = await next;
          }
          if (r.done) break;
          batch.push(r.value);
          if (batch.length >= SUBSCRIPTION_BATCH_EVENTS) await send();
        }
        await send();
      } finally {
        await it.return?.();
      }
    } catch (err) {
      if (!stop.signal.aborted) error = err;
    }
    subscriptions.delete(sub);
    post({ type: "end", sub, ...(error !== undefined ? { error: errorToWire(error) } : {}) });
  };

  port.addEventListener("message", (event) => {
    const message = event.data as ToWorker;
    if (message?.type === "call") {
      call(message.op, message.args ?? []).then(
        (value) => post({ type: "result", id: message.id, ok: true, value: toPlain(value) }),
        (err) => post({ type: "result", id: message.id, ok: false, error: errorToWire(err) }),
      );
    } else if (message?.type === "subscribe") {
      subscribe(message.sub, message.region, message.after);
    } else if (message?.type === "unsubscribe") {
      subscriptions.get(message.sub)?.stop.abort();
    } else if (message?.type === "ack") {
      subscriptions.get(message.sub)?.ack();
    }
  });
  post({ type: "ready" });
}

/** True inside a dedicated worker given the name a `BrowserStore` client uses. */
export function isStoreWorker(): boolean {
  const scope = globalThis as unknown as { name?: unknown; importScripts?: unknown };
  return typeof scope.importScripts === "function" && scope.name === "batpak-store";
}
