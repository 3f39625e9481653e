/**
 * The browser test harness, driven from `deno test`: bundles worker entries
 * with `deno bundle`, serves them and a harness page from 127.0.0.1, launches
 * the system's Chromium headless through `puppeteer-core` (never a
 * downloaded browser), and lets a test spawn dedicated module workers and
 * call their handlers (see `_worker_runtime.ts`). Console errors, page
 * errors, failed requests and unhandled rejections (page or worker) are
 * collected as faults: {@linkcode HarnessPage.assertClean} fails the test on
 * any that was not expected.
 *
 * When no Chromium is installed, {@linkcode chromiumOrSkip} prints one line
 * saying so and the suite registers no test.
 *
 * @module
 */

import puppeteer, { type Browser, type CDPSession, type Page } from "puppeteer-core";
import type { WireError } from "./_worker_runtime.ts";

/** Where Chromium is looked for, in order (`BATPAK_CHROMIUM` first when set). */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/**
 * The flags every launch uses: headless, no sandbox (CI runs as root), and
 * no background traffic (this network refuses it, and it would only slow
 * the tests down).
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** A call to a worker or the page that takes longer than this fails the test. */
const CALL_TIMEOUT_MS = 60_000;

/** The path of an installed Chromium, or `undefined`. */
export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("BATPAK_CHROMIUM");
  for (const path of fromEnv ? [fromEnv, ...CHROMIUM_CANDIDATES] : CHROMIUM_CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not there */ }
  }
  return undefined;
}

/**
 * The Chromium to test with; when there is none, prints the one line that
 * says the suite `suite` is skipped and why, and returns `undefined`.
 */
export function chromiumOrSkip(suite: string): string | undefined {
  const path = findChromium();
  if (path === undefined) {
    console.log(
      `${suite}: skipped, no Chromium found (looked for $BATPAK_CHROMIUM, ` +
        `${CHROMIUM_CANDIDATES.join(", ")}; install it with: apt-get install -y chromium)`,
    );
  }
  return path;
}

/** Bundle each TypeScript entry for the browser into `outDir`; returns name → file. */
export async function bundle(
  entries: Record<string, string>,
  outDir: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(
    Object.entries(entries).map(async ([name, entry]) => {
      const file = `${outDir}/${name}.js`;
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "-o", file, entry],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!result.success) {
        throw new Error(
          `deno bundle ${entry} failed:\n${new TextDecoder().decode(result.stderr)}`,
        );
      }
      out[name] = file;
    }),
  );
  return out;
}

/** The error a worker call rejected with, rebuilt on the Deno side. */
export class WorkerCallError extends Error {
  /** The remote error's `code` (a `StoreError` code), if any. */
  readonly code?: string;
  /** The remote error's `kind` (an `IoError` kind), if any. */
  readonly kind?: string;
  /** The remote error's class name. */
  readonly remoteName: string;
  /** The remote cause, as text. */
  readonly remoteCause?: string;

  constructor(call: string, wire: WireError) {
    super(
      `${call}: ${wire.name}${wire.code ? ` (${wire.code})` : ""}: ${wire.message}` +
        (wire.cause ? `\n  cause: ${wire.cause}` : "") +
        (wire.stack ? `\n  in the worker: ${wire.stack}` : ""),
    );
    this.name = "WorkerCallError";
    this.remoteName = wire.name;
    this.code = wire.code;
    this.kind = wire.kind;
    this.remoteCause = wire.cause;
  }
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The page script: spawns workers, relays calls, records faults. */
const PAGE_SCRIPT = `
const workers = new Map();
const pending = new Map();
let nextWorker = 1;
let nextCall = 1;
window.__faults = [];
const fault = (text) => window.__faults.push(text);
const describe = (e) => e && e.stack ? e.stack : String(e && e.message || e);
window.addEventListener("unhandledrejection", (e) => fault("page: unhandled rejection: " + describe(e.reason)));
window.addEventListener("error", (e) => fault("page: uncaught error: " + e.message));
window.__spawn = (url) => new Promise((resolve) => {
  const id = nextWorker++;
  const worker = new Worker(url, { type: "module", name: "w" + id });
  workers.set(id, worker);
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.type === "ready") resolve({ ok: true, value: id });
    else if (m.type === "fault") fault("worker " + id + ": " + m.text);
    else if (m.type === "progress") globalThis.__report?.(JSON.stringify(m.value));
    else if (m.type === "result") {
      const done = pending.get(m.id);
      pending.delete(m.id);
      if (done) done(m);
    }
  };
  worker.onerror = (e) => {
    const text = "worker " + id + ": error: " + (e.message || "failed to load " + url);
    fault(text);
    resolve({ ok: false, error: { name: "WorkerError", message: text } });
  };
  worker.onmessageerror = () => fault("worker " + id + ": a message could not be deserialised");
});
window.__call = (id, name, args) => new Promise((resolve) => {
  const worker = workers.get(id);
  if (!worker) return resolve({ ok: false, error: { name: "Error", message: "no worker " + id } });
  const callId = nextCall++;
  pending.set(callId, resolve);
  worker.postMessage({ id: callId, name, args });
});
window.__terminate = (id) => { workers.get(id)?.terminate(); workers.delete(id); };
window.__callModule = async (url, name, args) => {
  try {
    const mod = await import(url);
    return { ok: true, value: await mod[name](...args) };
  } catch (e) {
    return { ok: false, error: { name: e?.name ?? "Error", message: String(e?.message ?? e),
      code: e?.code, kind: e?.kind, stack: e?.stack } };
  }
};
`;

const PAGE_HTML = `<!doctype html><meta charset="utf-8"><title>batpak browser tests</title>
<link rel="icon" href="data:,">
<script type="module" src="/harness.js"></script><body>batpak browser tests</body>`;

/** A route the test server answers: path → body and content type. */
export type Routes = Record<string, { body: string | Uint8Array; type: string }>;

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
};

/** The MIME type for a file name. */
export function contentType(name: string): string {
  return TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream";
}

/** Options of {@linkcode startBrowser}. */
export interface StartOptions {
  /** Chromium's path (from {@linkcode chromiumOrSkip}). */
  chromium: string;
  /** Worker (or page) entries to bundle: name → TypeScript file; served at `/w/<name>.js`. */
  entries?: Record<string, string>;
  /** Extra routes. */
  routes?: Routes;
}

/** One browser with its server; close it when done. */
export class BrowserSession {
  readonly browser: Browser;
  /** `http://127.0.0.1:<port>`, a secure context for OPFS. */
  readonly origin: string;
  #server: Deno.HttpServer;
  #dirs: string[];

  constructor(browser: Browser, origin: string, server: Deno.HttpServer, dirs: string[]) {
    this.browser = browser;
    this.origin = origin;
    this.#server = server;
    this.#dirs = dirs;
  }

  /** A new tab on the harness page (or `path`), recording faults. */
  async page(path = "/"): Promise<HarnessPage> {
    const page = await this.browser.newPage();
    const harness = new HarnessPage(page, this.origin);
    await harness.goto(path);
    return harness;
  }

  /** Close the browser and the server, and remove the temporary directories. */
  async close(): Promise<void> {
    try {
      await withTimeout(this.browser.close(), "browser.close", 10_000);
    } catch {
      this.browser.process()?.kill("SIGKILL");
    }
    await this.#server.shutdown();
    for (const dir of this.#dirs) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* best effort */ }
    }
  }
}

/** Bundle the entries, serve them on 127.0.0.1 and launch Chromium with a fresh profile. */
export async function startBrowser(options: StartOptions): Promise<BrowserSession> {
  const buildDir = Deno.makeTempDirSync({ prefix: "batpak_browser_build_" });
  const profile = Deno.makeTempDirSync({ prefix: "batpak_chromium_profile_" });
  const files = await bundle(options.entries ?? {}, buildDir);
  const routes: Routes = {
    "/": { body: PAGE_HTML, type: TYPES[".html"] },
    "/harness.js": { body: PAGE_SCRIPT, type: TYPES[".js"] },
    ...options.routes,
  };
  for (const [name, file] of Object.entries(files)) {
    routes[`/w/${name}.js`] = { body: Deno.readFileSync(file), type: TYPES[".js"] };
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const route = routes[new URL(req.url).pathname];
      if (route === undefined) return new Response("not found", { status: 404 });
      return new Response(route.body as BodyInit, {
        headers: { "content-type": route.type, "cache-control": "no-store" },
      });
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: options.chromium,
      headless: true,
      userDataDir: profile,
      args: [...CHROMIUM_FLAGS],
      protocolTimeout: CALL_TIMEOUT_MS * 2,
    });
  } catch (err) {
    await server.shutdown();
    throw err;
  }
  return new BrowserSession(browser, origin, server, [buildDir, profile]);
}

/** One tab of the harness page. */
export class HarnessPage {
  readonly page: Page;
  readonly origin: string;
  /** Faults seen on the Deno side (console errors, page errors, failed requests). */
  readonly faults: string[] = [];
  #crashed = false;
  #cdp: CDPSession | undefined;

  constructor(page: Page, origin: string) {
    this.page = page;
    this.origin = origin;
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warn") {
        this.faults.push(`console.${m.type()}: ${m.text()}`);
      }
    });
    page.on("pageerror", (e) => this.faults.push(`page error: ${(e as Error).message ?? e}`));
    page.on("requestfailed", (r) => this.faults.push(`request failed: ${r.url()}`));
    page.on("response", (r) => {
      if (r.status() >= 400) this.faults.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on("error", (e) => {
      this.#crashed = true;
      this.faults.push(`page crashed: ${e.message}`);
    });
  }

  /** What workers reported with `report()` (see `_worker_runtime.ts`), in arrival order. */
  readonly progress: unknown[] = [];

  /** Receive `report()` calls from workers; call before spawning them. */
  async listen(): Promise<void> {
    await this.page.exposeFunction("__report", (json: string) => {
      this.progress.push(JSON.parse(json));
    });
  }

  /** Call export `name` of page module `/w/<entry>.js` with `args`, on the page itself. */
  async callModule<T = unknown>(entry: string, name: string, ...args: unknown[]): Promise<T> {
    const answer = await withTimeout(
      this.page.evaluate(
        (url, name, args) =>
          (globalThis as unknown as {
            __callModule(url: string, name: string, args: unknown[]): Promise<unknown>;
          }).__callModule(url, name, args),
        `/w/${entry}.js`,
        name,
        args,
      ) as Promise<{ ok: boolean; value?: T; error?: WireError }>,
      `${entry}.${name}`,
    );
    if (!answer.ok) throw new WorkerCallError(`${entry}.${name}`, answer.error!);
    return answer.value as T;
  }

  /** Load `path` of the test origin and wait for the harness script. */
  async goto(path = "/"): Promise<void> {
    await this.page.goto(this.origin + path, { waitUntil: "load" });
    if (path === "/") await this.page.waitForFunction(() => "__spawn" in globalThis);
  }

  /** Reload: every worker of the page ends, as on a real reload. */
  async reload(): Promise<void> {
    await this.page.reload({ waitUntil: "load" });
    await this.page.waitForFunction(() => "__spawn" in globalThis);
  }

  /** Spawn dedicated module worker `/w/<entry>.js` and wait until it serves. */
  async spawn(entry: string): Promise<HarnessWorker> {
    const answer = await withTimeout(
      this.page.evaluate(
        (url) => (globalThis as unknown as { __spawn(url: string): Promise<unknown> }).__spawn(url),
        `/w/${entry}.js`,
      ) as Promise<{ ok: boolean; value?: number; error?: WireError }>,
      `spawn ${entry}`,
    );
    if (!answer.ok) throw new WorkerCallError(`spawn ${entry}`, answer.error!);
    return new HarnessWorker(this, answer.value!, entry);
  }

  /** Override the origin's storage quota (bytes), or reset it with `undefined`. */
  async setQuota(bytes: number | undefined): Promise<void> {
    this.#cdp ??= await this.page.createCDPSession();
    await this.#cdp.send("Storage.overrideQuotaForOrigin", {
      origin: this.origin,
      ...(bytes === undefined ? {} : { quotaSize: bytes }),
    });
  }

  /** Kill the renderer (CDP `Page.crash`), as a crashed tab. */
  async crash(): Promise<void> {
    const cdp = await this.page.createCDPSession();
    const crashed = new Promise<void>((resolve) => this.page.once("error", () => resolve()));
    cdp.send("Page.crash").catch(() => {}); // never answers: the renderer is gone
    await withTimeout(crashed, "Page.crash", 10_000);
  }

  /** Faults from both sides: what the page recorded and what Deno saw. */
  async allFaults(): Promise<string[]> {
    const inPage = this.#crashed || this.page.isClosed()
      ? []
      : await this.page.evaluate(() =>
        (globalThis as unknown as { __faults?: string[] }).__faults ?? []
      );
    return [...inPage, ...this.faults];
  }

  /** Fail unless every fault matches one of `expected`. */
  async assertClean(expected: RegExp[] = []): Promise<void> {
    const unexpected = (await this.allFaults()).filter((f) => !expected.some((re) => re.test(f)));
    if (unexpected.length > 0) {
      throw new Error(
        `the browser reported ${unexpected.length} fault(s):\n${unexpected.join("\n")}`,
      );
    }
  }

  /** Close the tab (its workers end with it). */
  async close(): Promise<void> {
    if (!this.page.isClosed()) await this.page.close();
  }
}

/** One dedicated worker of a harness page. */
export class HarnessWorker {
  readonly page: HarnessPage;
  readonly id: number;
  readonly entry: string;

  constructor(page: HarnessPage, id: number, entry: string) {
    this.page = page;
    this.id = id;
    this.entry = entry;
  }

  /** Call handler `name`; rejects with {@linkcode WorkerCallError} when it throws. */
  async call<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    const answer = await withTimeout(
      this.page.page.evaluate(
        (id, name, args) =>
          (globalThis as unknown as {
            __call(id: number, name: string, args: unknown[]): Promise<unknown>;
          }).__call(id, name, args),
        this.id,
        name,
        args,
      ) as Promise<{ ok: boolean; value?: T; error?: WireError }>,
      `${this.entry}.${name}`,
    );
    if (!answer.ok) throw new WorkerCallError(`${this.entry}.${name}`, answer.error!);
    return answer.value as T;
  }

  /** Start handler `name` without waiting for it (for crashes mid-call). */
  fire(name: string, ...args: unknown[]): void {
    this.page.page.evaluate(
      (id, name, args) => {
        (globalThis as unknown as {
          __call(id: number, name: string, args: unknown[]): Promise<unknown>;
        }).__call(id, name, args);
      },
      this.id,
      name,
      args,
    ).catch(() => {});
  }

  /** Terminate the worker (`Worker.terminate`): its locks and handles are freed. */
  async terminate(): Promise<void> {
    await this.page.page.evaluate(
      (id) => (globalThis as unknown as { __terminate(id: number): void }).__terminate(id),
      this.id,
    );
  }
}
