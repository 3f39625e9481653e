/**
 * Store configuration: the validation of {@linkcode StoreConfig} into
 * resolved settings. The default file system is not chosen here (the core
 * knows no runtime): the facade passes it in.
 *
 * @module
 */

import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import { cryptoRandom, type RandomSource } from "../core/ids.ts";
import {
  FD_BUDGET_DEFAULT,
  SEGMENT_MAX_BYTES_DEFAULT,
  SEGMENT_MAX_BYTES_MAX,
  SEGMENT_MAX_BYTES_MIN,
  SYNC_EVERY_N_EVENTS_DEFAULT,
} from "../core/limits.ts";
import type { FileSystem } from "../fs/types.ts";
import type { TypedKind } from "../core/kind.ts";

/**
 * How and when the writer fsyncs.
 *
 * @example
 * ```ts
 * import { Store, type SyncConfig } from "@seed/batpak";
 * const sync: SyncConfig = { everyNEvents: 1, mode: "all" }; // fsync after every append
 * const store = Store.open({ dataDir: Deno.makeTempDirSync(), sync });
 * store.close();
 * ```
 */
export interface SyncConfig {
  /** Fsync after this many appended events (default 1000). */
  everyNEvents?: number;
  /** `"data"` = fdatasync (default), `"all"` = fsync. */
  mode?: "data" | "all";
}

/**
 * Options of {@linkcode Store.open}.
 *
 * @example
 * ```ts
 * import { Store, type StoreConfig } from "@seed/batpak";
 * const config: StoreConfig = {
 *   dataDir: Deno.makeTempDirSync(),
 *   segmentMaxBytes: 8 * 1024 * 1024,
 *   sync: { everyNEvents: 100 },
 * };
 * const store = Store.open(config);
 * console.log(store.diagnostics().segments); // 1
 * store.close();
 * ```
 */
export interface StoreConfig {
  /** Directory holding the segments and sidecars; created when missing. */
  dataDir: string;
  /** Rotate the active segment once it would grow past this many bytes (default 64 MiB). */
  segmentMaxBytes?: number;
  /** Sync cadence and mode. */
  sync?: SyncConfig;
  /** Maximum open read handles, least recently used closed first (default 64). */
  fdBudget?: number;
  /** Write and restore a periodic index checkpoint (default true). */
  enableCheckpoint?: boolean;
  /**
   * Write an index image (`index.img`) on close and restore it in bulk on
   * open (default true).
   */
  enableSidecarImage?: boolean;
  /**
   * @deprecated Use {@linkcode StoreConfig.enableSidecarImage} (the image is
   * read, not memory-mapped); this name keeps working for one version.
   */
  enableMmapIndex?: boolean;
  /** Epoch milliseconds; inject a simulated clock for deterministic runs. */
  clock?: () => number;
  /** Storage backend (default: the real file system, `DenoFileSystem`). */
  fs?: FileSystem;
  /**
   * Fills a byte array with random bytes, for event ids and fencing tokens
   * (default: `crypto.getRandomValues`). Inject a seeded source, with a
   * simulated `clock`, to make a run replayable.
   */
  random?: (bytes: Uint8Array) => void;
  /**
   * Open without the directory lock, change nothing (no torn-tail cut, no
   * sidecar writes), and reject every write with `StoreError` code
   * `"READ_ONLY"`: for inspecting or following a store another process has
   * open. {@linkcode Store.refresh} picks up what that process appended since.
   */
  readOnly?: boolean;
  /**
   * The typed kinds (`EventKind.define`) whose schema this store knows: their
   * events are returned in the current shape on every read path (older
   * versions upcast), and a versioned kind can be appended only when listed
   * here. Their names are recorded at a writable open. Per store: another
   * store in the same process does not see them.
   */
  kinds?: readonly TypedKind<unknown>[];
}

function noDefault(): never {
  throw new InvalidArgumentError(
    "config.fs is required here: this runtime registered no default file system " +
      "(in a browser, pass await OpfsFileSystem.open())",
  );
}

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
  random: RandomSource;
  fs: FileSystem;
  readOnly: boolean;
  /** `config.kinds` as given (validated by the facade into a registry). */
  kinds: unknown;
}

function positiveInt(
  name: string,
  v: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer in ${min}..${max}, found ${describeValue(v)}`,
    );
  }
  return v;
}

function boolOption(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") {
    throw new InvalidArgumentError(`${name} must be a boolean, found ${describeValue(v)}`);
  }
  return v;
}

/**
 * Validate a config (or a bare directory path) and fill in the defaults;
 * `defaultFs` is the runtime's file system, used when `config.fs` is absent.
 * Every field is read once.
 */
export function resolveConfig(
  config: StoreConfig | string,
  defaultFs: () => FileSystem | undefined,
): Settings {
  const given: StoreConfig = typeof config === "string" ? { dataDir: config } : config;
  if (typeof given !== "object" || given === null) {
    throw new InvalidArgumentError(
      `Store.open needs a config object or a directory path, found ${describeValue(given)}`,
    );
  }
  // One read of each field: a getter cannot validate one value and hand over another.
  const c: StoreConfig = { ...given };
  if (typeof c.dataDir !== "string" || c.dataDir.length === 0) {
    throw new InvalidArgumentError(
      `config.dataDir must be a non-empty string, found ${describeValue(c.dataDir)}`,
    );
  }
  if (c.dataDir.includes("\0")) {
    throw new InvalidArgumentError("config.dataDir contains a NUL character");
  }
  if (c.sync !== undefined && (typeof c.sync !== "object" || c.sync === null)) {
    throw new InvalidArgumentError("config.sync must be an object");
  }
  const sync = { ...c.sync };
  const mode = sync.mode ?? "data";
  if (mode !== "data" && mode !== "all") {
    throw new InvalidArgumentError(
      `config.sync.mode must be "data" or "all", found ${describeValue(mode)}`,
    );
  }
  if (c.clock !== undefined && typeof c.clock !== "function") {
    throw new InvalidArgumentError("config.clock must be a function returning epoch ms");
  }
  if (c.random !== undefined && typeof c.random !== "function") {
    throw new InvalidArgumentError("config.random must be a function filling a Uint8Array");
  }
  const fs = c.fs;
  if (
    fs !== undefined &&
    (typeof fs !== "object" || fs === null ||
      !["open", "stat", "readDir", "mkdir", "rename", "remove", "syncDir", "lockDir"].every(
        (m) => typeof (fs as unknown as Record<string, unknown>)[m] === "function",
      ))
  ) {
    throw new InvalidArgumentError(
      "config.fs must implement FileSystem (open, stat, readDir, mkdir, rename, remove, syncDir, lockDir)",
    );
  }
  // `enableSidecarImage` is the name; `enableMmapIndex` (deprecated) is read when it is absent.
  const image = c.enableSidecarImage !== undefined
    ? boolOption("config.enableSidecarImage", c.enableSidecarImage, true)
    : boolOption("config.enableMmapIndex", c.enableMmapIndex, true);
  return {
    dataDir: c.dataDir,
    segmentMaxBytes: positiveInt(
      "config.segmentMaxBytes",
      c.segmentMaxBytes,
      SEGMENT_MAX_BYTES_DEFAULT,
      SEGMENT_MAX_BYTES_MIN,
      SEGMENT_MAX_BYTES_MAX,
    ),
    everyNEvents: positiveInt(
      "config.sync.everyNEvents",
      sync.everyNEvents,
      SYNC_EVERY_N_EVENTS_DEFAULT,
    ),
    syncMode: mode,
    fdBudget: positiveInt("config.fdBudget", c.fdBudget, FD_BUDGET_DEFAULT),
    enableCheckpoint: boolOption("config.enableCheckpoint", c.enableCheckpoint, true),
    enableMmapIndex: image,
    clock: c.clock ?? Date.now,
    random: c.random ?? cryptoRandom,
    fs: fs ?? defaultFs() ?? noDefault(),
    readOnly: boolOption("config.readOnly", c.readOnly, false),
    kinds: c.kinds,
  };
}
