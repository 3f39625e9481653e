/**
 * The messages between a {@linkcode BrowserStore} client (any thread) and
 * the worker serving the store, and how values cross: `Coordinate` and
 * `Region` travel as their fields and are rebuilt (so the worker validates
 * them as `Store` would), receipts as plain objects, errors as their class
 * name, message, fields and cause, rebuilt as the same `StoreError`
 * subclass on the other side (so `instanceof ConcurrencyError` holds).
 *
 * @module
 */

import { Coordinate } from "../core/coordinate.ts";
import * as errors from "../core/errors.ts";
import { Region } from "../core/region.ts";

/** The worker name a client gives a worker it spawns from the bundle itself. */
export const WORKER_NAME = "batpak-store";

/** Events per subscription message; the worker waits for an ack before sending more. */
export const SUBSCRIPTION_BATCH_EVENTS = 256;

/** A call from the client. */
export interface CallMessage {
  type: "call";
  id: number;
  op: string;
  args: unknown[];
}

/** Start (`after`) or stop a subscription, or acknowledge a batch of it. */
export interface SubscriptionMessage {
  type: "subscribe" | "unsubscribe" | "ack";
  sub: number;
  region?: WireRegion;
  after?: number;
}

/** Client → worker. */
export type ToWorker = CallMessage | SubscriptionMessage;

/** Worker → client. */
export type FromWorker =
  | { type: "ready" }
  | { type: "result"; id: number; ok: true; value: unknown }
  | { type: "result"; id: number; ok: false; error: WireError }
  | { type: "events"; sub: number; events: unknown[] }
  | { type: "end"; sub: number; error?: WireError };

/** An error as data. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
  cause?: WireError;
}

/** A region as data: its fields. */
export interface WireRegion {
  entity?: string;
  entityPrefix?: string;
  scope?: string;
  kinds?: number[];
  category?: number;
  includeSystem?: boolean;
}

const CAUSE_DEPTH_MAX = 4;

/** `err` as data (own fields kept when structured-clonable, causes to a few levels). */
export function errorToWire(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error)) {
    return { name: "Error", message: String(err), fields: {} };
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err)) {
    if (key === "cause" || key === "stack" || key === "message") continue;
    if (typeof value === "function" || typeof value === "symbol") continue;
    fields[key] = value instanceof Error ? String(value) : value;
  }
  return {
    name: err.name,
    message: err.message,
    ...(err.stack ? { stack: err.stack } : {}),
    fields,
    ...(err.cause !== undefined && depth < CAUSE_DEPTH_MAX
      ? { cause: errorToWire(err.cause, depth + 1) }
      : {}),
  };
}

type ErrorClass = new (...args: never[]) => Error;

/** The store's error classes by name, and the platform's common ones. */
function errorClass(name: string): ErrorClass {
  const own = (errors as unknown as Record<string, unknown>)[name];
  if (typeof own === "function" && own.prototype instanceof Error) return own as ErrorClass;
  const global = (globalThis as unknown as Record<string, unknown>)[name];
  if (typeof global === "function" && (global === Error || global.prototype instanceof Error)) {
    return global as ErrorClass;
  }
  return Error;
}

/** The error `wire` describes, as an instance of the same class where it is known here. */
export function errorFromWire(wire: WireError): Error {
  const Class = errorClass(wire.name);
  const err = Object.create(Class.prototype) as Error;
  Object.defineProperty(err, "message", {
    value: wire.message,
    writable: true,
    configurable: true,
  });
  Object.assign(err, wire.fields);
  Object.defineProperty(err, "name", { value: wire.name, writable: true, configurable: true });
  if (wire.cause) {
    Object.defineProperty(err, "cause", {
      value: errorFromWire(wire.cause),
      writable: true,
      configurable: true,
    });
  }
  Object.defineProperty(err, "stack", {
    value: `${wire.stack ?? `${wire.name}: ${wire.message}`}\n    (in the store's worker)`,
    writable: true,
    configurable: true,
  });
  return err;
}

/** A region's fields. */
export function regionToWire(region: Region): WireRegion {
  if (!(region instanceof Region)) return region as unknown as WireRegion;
  return {
    ...(region.entity !== undefined ? { entity: region.entity } : {}),
    ...(region.entityPrefix !== undefined ? { entityPrefix: region.entityPrefix } : {}),
    ...(region.scope !== undefined ? { scope: region.scope } : {}),
    ...(region.kinds !== undefined ? { kinds: [...region.kinds] } : {}),
    ...(region.category !== undefined ? { category: region.category } : {}),
    ...(region.includeSystem ? { includeSystem: true } : {}),
  };
}

/** The region `wire` describes, rebuilt through `Region`'s own constructors (which validate). */
export function regionFromWire(wire: WireRegion | undefined): Region {
  if (wire === null || typeof wire !== "object") {
    // Let the store reject it with its own error.
    return wire as unknown as Region;
  }
  let region = wire.entity !== undefined
    ? Region.stream(wire.entity)
    : wire.entityPrefix !== undefined
    ? Region.entity(wire.entityPrefix)
    : wire.scope !== undefined
    ? Region.scope(wire.scope)
    : Region.all();
  if (wire.kinds !== undefined) region = region.withKinds(...(wire.kinds as never[]));
  if (wire.category !== undefined) region = region.withCategory(wire.category);
  if (wire.includeSystem) {
    const withSystem = (region as unknown as { withSystem?: () => Region }).withSystem;
    if (typeof withSystem === "function") region = withSystem.call(region);
  }
  return region;
}

/** A coordinate as data, marked so that only a real `Coordinate` is rebuilt as one. */
export interface WireCoordinate {
  coordinate: true;
  entity: string;
  scope: string;
}

/** A `Coordinate` as data; anything else as it is (the store rejects it). */
export function coordinateToWire(coord: unknown): unknown {
  return coord instanceof Coordinate
    ? { coordinate: true, entity: coord.entity, scope: coord.scope } satisfies WireCoordinate
    : coord;
}

/** The coordinate `wire` describes; anything that is not one is passed on for the store to reject. */
export function coordinateFromWire(wire: unknown): Coordinate {
  if (wire !== null && typeof wire === "object" && (wire as WireCoordinate).coordinate === true) {
    const { entity, scope } = wire as WireCoordinate;
    return new Coordinate(entity, scope);
  }
  return wire as Coordinate;
}

/** A value as plain data: receipts and other objects with `toJSON` become what it returns. */
export function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlain);
  if (
    value !== null && typeof value === "object" &&
    typeof (value as { toJSON?: unknown }).toJSON === "function" && !(value instanceof Date)
  ) {
    return (value as { toJSON(): unknown }).toJSON();
  }
  return value;
}
