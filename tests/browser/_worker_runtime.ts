/**
 * The worker side of the browser test harness: a dedicated module worker
 * bundles this with its handlers and calls {@linkcode serve}. The harness
 * page then calls handlers by name over `postMessage`; every unhandled
 * rejection, uncaught error and `console.error` / `console.warn` in the
 * worker is reported to the page as a fault, which fails the Deno test.
 *
 * @module
 */

/** A handler the Deno side can call: JSON-like arguments in, structured-clonable value out. */
// deno-lint-ignore no-explicit-any
export type Handler = (...args: any[]) => unknown;

/** An error as it crosses the worker boundary. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  kind?: string;
  stack?: string;
  cause?: string;
}

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}

const scope = globalThis as unknown as WorkerScope;

/** The error `err` as plain data (name, code, kind, message, stack, cause). */
export function toWire(err: unknown): WireError {
  const e = err as {
    name?: string;
    message?: string;
    code?: unknown;
    kind?: unknown;
    stack?: string;
    cause?: unknown;
  };
  const cause = e?.cause as { name?: string; message?: string } | undefined;
  return {
    name: e?.name ?? typeof err,
    message: e?.message ?? String(err),
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
    ...(typeof e?.kind === "string" ? { kind: e.kind } : {}),
    ...(e?.stack ? { stack: e.stack } : {}),
    ...(cause ? { cause: `${cause.name ?? "Error"}: ${cause.message ?? String(cause)}` } : {}),
  };
}

function text(args: unknown[]): string {
  return args.map((a) => a instanceof Error ? `${a.name}: ${a.message}` : String(a)).join(" ");
}

/** Send `value` to the Deno side at once (it survives a later crash of the page). */
export function report(value: unknown): void {
  scope.postMessage({ type: "progress", value });
}

/** Answer calls from the harness page with `handlers`, and report every fault. */
export function serve(handlers: Record<string, Handler>): void {
  const fault = (text: string) => scope.postMessage({ type: "fault", text });
  scope.addEventListener("unhandledrejection", (event: { reason: unknown }) => {
    const w = toWire(event.reason);
    fault(`unhandled rejection: ${w.name}: ${w.message}\n${w.stack ?? ""}`);
  });
  scope.addEventListener(
    "error",
    (event: { message: string; filename: string; lineno: number }) => {
      fault(`uncaught error: ${event.message} (${event.filename}:${event.lineno})`);
    },
  );
  for (const level of ["error", "warn"] as const) {
    const original = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      original(...args);
      fault(`console.${level}: ${text(args)}`);
    };
  }
  scope.addEventListener(
    "message",
    async (event: { data: { id: number; name: string; args: unknown[] } }) => {
      const { id, name, args } = event.data;
      const handler = handlers[name];
      try {
        if (handler === undefined) throw new Error(`no handler "${name}" in this worker`);
        const value = await handler(...args);
        scope.postMessage({ type: "result", id, ok: true, value });
      } catch (err) {
        scope.postMessage({ type: "result", id, ok: false, error: toWire(err) });
      }
    },
  );
  scope.postMessage({ type: "ready" });
}
