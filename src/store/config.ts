/**
 * Store configuration: defaults, limits, and the validation of
 * {@linkcode StoreConfig} into resolved settings.
 *
 * @module
 */

import { DenoFileSystem } from "../fs/deno.ts";
import type { FileSystem } from "../fs/types.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import type { StoreConfig } from "../core/types.ts";

/** Default segment rotation size, bytes (64 MiB). */
export const SEGMENT_MAX_BYTES_DEFAULT = 64 * 1024 * 1024;
/** Smallest accepted `segmentMaxBytes`. */
export const SEGMENT_MAX_BYTES_MIN = 256;
/** Default `sync.everyNEvents`. */
export const SYNC_EVERY_N_EVENTS_DEFAULT = 1000;
/** Default `fdBudget`. */
export const FD_BUDGET_DEFAULT = 64;
/**
 * Largest batch, in items; a larger one is an `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * import { BATCH_ITEMS_MAX } from "@seed/batpak";
 * console.log(BATCH_ITEMS_MAX); // 65536
 * ```
 */
export const BATCH_ITEMS_MAX = 65_536;
/**
 * Largest global sequence, so the most events one store holds (a u32 in the frame).
 *
 * @example
 * ```ts
 * import { GLOBAL_SEQUENCE_MAX } from "@seed/batpak";
 * console.log(GLOBAL_SEQUENCE_MAX); // 4294967295
 * ```
 */
export const GLOBAL_SEQUENCE_MAX = 0xffff_ffff;
/** Longest string idempotency key, UTF-8 bytes. */
export const IDEMPOTENCY_KEY_BYTES_MAX = 1024;
/** A checkpoint is written once this many events arrived since the last one (and at least a quarter of the log). */
export const CHECKPOINT_EVERY_EVENTS_MIN = 65_536;
/** Name of the directory lock file. */
export const LOCK_FILE = "LOCK";

/** Resolved configuration. */
export interface Settings {
  dataDir: string;
  segmentMaxBytes: number;
  everyNEvents: number;
  syncMode: "data" | "all";
  fdBudget: number;
  enableCheckpoint: boolean;
  enableMmapIndex: boolean;
  clock: () => number;
  fs: FileSystem;
  readOnly: boolean;
}

function positiveInt(name: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, found ${String(v)}`);
  }
  return v;
}

function boolOption(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") {
    throw new InvalidArgumentError(`${name} must be a boolean, found ${typeof v}`);
  }
  return v;
}

/** Validate a config (or a bare directory path) and fill in the defaults. */
export function resolveConfig(config: StoreConfig | string): Settings {
  const c: StoreConfig = typeof config === "string" ? { dataDir: config } : config;
  if (typeof c !== "object" || c === null) {
    throw new InvalidArgumentError(
      `Store.open needs a config object or a directory path, found ${String(c)}`,
    );
  }
  if (typeof c.dataDir !== "string" || c.dataDir.length === 0) {
    throw new InvalidArgumentError(
      `config.dataDir must be a non-empty string, found ${String(c.dataDir)}`,
    );
  }
  if (c.sync !== undefined && (typeof c.sync !== "object" || c.sync === null)) {
    throw new InvalidArgumentError("config.sync must be an object");
  }
  const mode = c.sync?.mode ?? "data";
  if (mode !== "data" && mode !== "all") {
    throw new InvalidArgumentError(
      `config.sync.mode must be "data" or "all", found ${String(mode)}`,
    );
  }
  if (c.clock !== undefined && typeof c.clock !== "function") {
    throw new InvalidArgumentError("config.clock must be a function returning epoch ms");
  }
  if (
    c.fs !== undefined &&
    (typeof c.fs !== "object" || c.fs === null || typeof c.fs.open !== "function")
  ) {
    throw new InvalidArgumentError("config.fs must implement FileSystem");
  }
  return {
    dataDir: c.dataDir,
    segmentMaxBytes: positiveInt(
      "config.segmentMaxBytes",
      c.segmentMaxBytes,
      SEGMENT_MAX_BYTES_DEFAULT,
      SEGMENT_MAX_BYTES_MIN,
    ),
    everyNEvents: positiveInt(
      "config.sync.everyNEvents",
      c.sync?.everyNEvents,
      SYNC_EVERY_N_EVENTS_DEFAULT,
    ),
    syncMode: mode,
    fdBudget: positiveInt("config.fdBudget", c.fdBudget, FD_BUDGET_DEFAULT),
    enableCheckpoint: boolOption("config.enableCheckpoint", c.enableCheckpoint, true),
    enableMmapIndex: boolOption("config.enableMmapIndex", c.enableMmapIndex, true),
    clock: c.clock ?? Date.now,
    fs: c.fs ?? new DenoFileSystem(),
    readOnly: boolOption("config.readOnly", c.readOnly, false),
  };
}
