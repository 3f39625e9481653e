/**
 * Every error the store throws extends {@linkcode StoreError} and carries a
 * stable string `code`, so callers can branch without parsing messages.
 *
 * @module
 */

/**
 * The stable codes of {@linkcode StoreError}: branch on these, not on messages.
 *
 * @example
 * ```ts
 * import { Coordinate, type StoreErrorCode, StoreError } from "@seed/batpak";
 * let code: StoreErrorCode | undefined;
 * try {
 *   new Coordinate("", "bank");
 * } catch (e) {
 *   if (e instanceof StoreError) code = e.code;
 * }
 * console.log(code); // INVALID_COORDINATE
 * ```
 */
export type StoreErrorCode =
  | "INVALID_COORDINATE"
  | "INVALID_ARGUMENT"
  | "INVALID_PAYLOAD"
  | "RESERVED_KIND"
  | "CONCURRENCY"
  | "IDEMPOTENCY_CONFLICT"
  | "NOT_FOUND"
  | "STORE_LOCKED"
  | "CORRUPT_SEGMENT"
  | "STORE_CLOSED"
  | "WRITER_POISONED"
  | "STORAGE_FULL"
  | "IO_ERROR"
  | "READ_ONLY"
  | "LOG_FULL"
  | "OWNERSHIP"
  | "PAYLOAD_TOO_LARGE"
  | "STREAM_DELETED"
  | "KIND_CONFLICT"
  | "UPCAST_FAILED"
  | "INTERNAL";

/**
 * Base class of every error thrown by the store.
 *
 * @example
 * ```ts
 * import { StoreError, Coordinate } from "@seed/batpak";
 * try {
 *   new Coordinate("", "scope");
 * } catch (e) {
 *   if (e instanceof StoreError) console.log(e.code); // "INVALID_COORDINATE"
 * }
 * ```
 */
export class StoreError extends Error {
  /** Stable machine-readable code, e.g. `"CONCURRENCY"`. */
  readonly code: StoreErrorCode;
  /** Build an error with a stable `code`. */
  constructor(code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * An entity or scope is empty, too long, or contains control characters.
 *
 * @example
 * ```ts
 * import { Coordinate, InvalidCoordinateError } from "@seed/batpak";
 * try {
 *   new Coordinate("", "bank");
 * } catch (e) {
 *   console.log(e instanceof InvalidCoordinateError); // true
 * }
 * ```
 */
export class InvalidCoordinateError extends StoreError {
  /** Build the error; `message` says what was expected and what was found. */
  constructor(message: string) {
    super("INVALID_COORDINATE", message);
  }
}

/**
 * An argument has the wrong type or an out-of-range value.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError, Region, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * try {
 *   store.queryAfter(Region.all(), -1, 10);
 * } catch (e) {
 *   console.log(e instanceof InvalidArgumentError); // true
 * }
 * store.close();
 * ```
 */
export class InvalidArgumentError extends StoreError {
  /** Build the error; `message` names the argument. */
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/**
 * `append` was given a kind in a category reserved for the store (0x0 or 0xD).
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, ReservedKindError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * try {
 *   store.append(new Coordinate("a", "s"), EventKind.custom(0xd, 1), {});
 * } catch (e) {
 *   console.log(e instanceof ReservedKindError && e.category); // 13
 * }
 * store.close();
 * ```
 */
export class ReservedKindError extends StoreError {
  /** The reserved category that was used. */
  readonly category: number;
  /** Build the error for `category`. */
  constructor(category: number) {
    super(
      "RESERVED_KIND",
      `event kind category 0x${category.toString(16)} is reserved for the store ` +
        `(0x0 system, 0xD effect); use EventKind.custom with category 0x1..0xC or 0xE..0xF`,
    );
    this.category = category;
  }
}

/**
 * The entity's stream was deleted (`Store.deleteStream`): a
 * deletion is final, so appending to it (with or without
 * `expectedSequence`) is refused. Its last sequence stays readable through
 * `lastSequence`.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store, StreamDeletedError } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const coord = new Coordinate("acct:1", "bank");
 * store.append(coord, EventKind.custom(1, 1), {});
 * store.deleteStream("acct:1");
 * try {
 *   store.append(coord, EventKind.custom(1, 1), {});
 * } catch (e) {
 *   if (e instanceof StreamDeletedError) console.log(e.code, e.entity); // STREAM_DELETED acct:1
 * }
 * store.close();
 * ```
 */
export class StreamDeletedError extends StoreError {
  /** The deleted entity. */
  readonly entity: string;
  /** Build the error. */
  constructor(entity: string, detail = "appends to it are refused") {
    super("STREAM_DELETED", `entity "${entity}" was deleted: ${detail}`);
    this.entity = entity;
  }
}

/**
 * `expectedSequence` did not match the entity's last sequence.
 *
 * @example
 * ```ts
 * import { ConcurrencyError, Coordinate, EventKind, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const coord = new Coordinate("a", "s");
 * store.append(coord, EventKind.custom(1, 1), {});
 * try {
 *   store.append(coord, EventKind.custom(1, 1), {}, { expectedSequence: 0 });
 * } catch (e) {
 *   if (e instanceof ConcurrencyError) console.log(e.expected, e.actual); // 0 1
 * }
 * store.close();
 * ```
 */
export class ConcurrencyError extends StoreError {
  /** The entity whose sequence was checked. */
  readonly entity: string;
  /** The sequence the caller expected. */
  readonly expected: number;
  /** The entity's actual last sequence (0 when it has no events). */
  readonly actual: number;
  /** Build the error. */
  constructor(entity: string, expected: number, actual: number) {
    super(
      "CONCURRENCY",
      `entity "${entity}": expected sequence ${expected}, actual ${actual}`,
    );
    this.entity = entity;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * No event has the requested id.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, NotFoundError, Store } from "@seed/batpak";
 * const elsewhere = Store.open(Deno.makeTempDirSync());
 * const { eventId } = elsewhere.append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
 * elsewhere.close();
 * const store = Store.open(Deno.makeTempDirSync());
 * try {
 *   store.get(eventId);
 * } catch (e) {
 *   console.log(e instanceof NotFoundError); // true
 * }
 * store.close();
 * ```
 */
export class NotFoundError extends StoreError {
  /** Build the error; `message` names what was looked up. */
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

/**
 * Another `Store` (in this or another process) holds the directory lock. In
 * a browser (`OpfsFileSystem`, `BrowserStore`): another tab or worker of the
 * origin has the store open, and the message says what to do about it.
 *
 * @example
 * ```ts
 * import { Store, StoreLockedError } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const store = Store.open(dir);
 * try {
 *   Store.open(dir);
 * } catch (e) {
 *   console.log(e instanceof StoreLockedError); // true
 * }
 * store.close();
 * ```
 */
export class StoreLockedError extends StoreError {
  /** The locked data directory. */
  readonly dataDir: string;
  /**
   * Build the error for `dataDir`; `detail` says who holds it and what to
   * do (default: another open Store, in this or another process: close it).
   */
  constructor(dataDir: string, detail?: string) {
    super(
      "STORE_LOCKED",
      `store directory "${dataDir}" is locked ` +
        (detail ?? "by another open Store (this or another process); close it first"),
    );
    this.dataDir = dataDir;
  }
}

/**
 * A frame in a sealed segment (or a sidecar that must be trusted) failed its checks.
 *
 * @example
 * ```ts
 * import { Coordinate, CorruptSegmentError, EventKind, Store } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const store = Store.open({ dataDir: dir, segmentMaxBytes: 1024, enableMmapIndex: false });
 * for (let i = 0; i < 50; i++) store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), { i });
 * store.close();
 * const bytes = Deno.readFileSync(`${dir}/000001.fbat`);
 * bytes[100] ^= 0xff; // damage a sealed segment
 * Deno.writeFileSync(`${dir}/000001.fbat`, bytes);
 * try {
 *   Store.open(dir);
 * } catch (e) {
 *   if (e instanceof CorruptSegmentError) console.log(e.file); // 000001.fbat
 * }
 * ```
 */
export class CorruptSegmentError extends StoreError {
  /** The file holding the bad bytes. */
  readonly file: string;
  /** Byte offset of the bad frame within `file`. */
  readonly offset: number;
  /** Build the error. */
  constructor(file: string, offset: number, detail: string) {
    super("CORRUPT_SEGMENT", `corrupt segment ${file} at offset ${offset}: ${detail}`);
    this.file = file;
    this.offset = offset;
  }
}

/**
 * The store was closed, or its writer was poisoned by an I/O failure.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store, StoreClosedError } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.close();
 * try {
 *   store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
 * } catch (e) {
 *   console.log(e instanceof StoreClosedError); // true
 * }
 * ```
 */
export class StoreClosedError extends StoreError {
  /** Build the error; `message` says why the store no longer accepts the call. */
  constructor(message = "store is closed", options?: ErrorOptions) {
    super("STORE_CLOSED", message, options);
  }
}

/**
 * Why an ownership call or fenced append was rejected.
 *
 * @example
 * ```ts
 * import { OwnershipError, type OwnershipRejection, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const orders = store.ownership("orders");
 * orders.claim("worker-a", 60_000);
 * try {
 *   orders.claim("worker-b", 60_000);
 * } catch (e) {
 *   const reason: OwnershipRejection = (e as OwnershipError).reason;
 *   console.log(reason); // lease_held
 * }
 * store.close();
 * ```
 */
export type OwnershipRejection = "stale_owner" | "split_brain" | "invalid_token" | "lease_held";

/**
 * A fenced append or ownership call was rejected; nothing was written.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, OwnershipError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const fence = store.ownership("orders").claim("worker-a", 60_000);
 * try {
 *   store.append(new Coordinate("order:1", "orders"), EventKind.custom(1, 1), {}, {
 *     fence: { ...fence, token: "forged" },
 *   });
 * } catch (e) {
 *   if (e instanceof OwnershipError) console.log(e.reason, e.currentEpoch); // invalid_token 1
 * }
 * store.close();
 * ```
 */
export class OwnershipError extends StoreError {
  /** Why it was rejected. */
  readonly reason: OwnershipRejection;
  /** The scope the fence guards. */
  readonly scope: string;
  /** The current epoch of the scope (0 when never claimed). */
  readonly currentEpoch: number;
  /** The epoch that was presented (0 for a plain claim). */
  readonly requestedEpoch: number;
  /** Build the error. */
  constructor(
    reason: OwnershipRejection,
    scope: string,
    currentEpoch: number,
    requestedEpoch: number,
    detail: string,
  ) {
    super("OWNERSHIP", `scope "${scope}": ${reason}: ${detail}`);
    this.reason = reason;
    this.scope = scope;
    this.currentEpoch = currentEpoch;
    this.requestedEpoch = requestedEpoch;
  }
}

/**
 * A payload (or a whole frame) exceeds the store's maximum frame size.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, PayloadTooLargeError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * try {
 *   store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), new Uint8Array(17 * 1024 * 1024));
 * } catch (e) {
 *   if (e instanceof PayloadTooLargeError) console.log(e.maxBytes); // 16777216
 * }
 * store.close();
 * ```
 */
export class PayloadTooLargeError extends StoreError {
  /** Encoded size in bytes. */
  readonly bytes: number;
  /** The maximum allowed. */
  readonly maxBytes: number;
  /** Build the error. */
  constructor(bytes: number, maxBytes: number) {
    super(
      "PAYLOAD_TOO_LARGE",
      `encoded event is ${bytes} bytes; the maximum frame body is ${maxBytes} bytes`,
    );
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * A payload cannot be encoded (functions, symbols, cycles, unsupported objects).
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, InvalidPayloadError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * try {
 *   store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), { when: new Map() });
 * } catch (e) {
 *   console.log(e instanceof InvalidPayloadError); // true
 * }
 * store.close();
 * ```
 */
export class InvalidPayloadError extends StoreError {
  /** Build the error; `message` names the offending value. */
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_PAYLOAD", message, options);
  }
}

/**
 * An idempotency key was reused for a different entity or kind (or twice in
 * one batch). A retry — the same key with the same entity and kind — is not
 * an error: it returns the first receipt with `duplicate: true`. Nothing was
 * written.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, IdempotencyConflictError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const deposited = EventKind.custom(0x1, 1);
 * store.append(new Coordinate("account:1", "bank"), deposited, 10, { idempotencyKey: "tx-1" });
 * try {
 *   store.append(new Coordinate("account:2", "bank"), deposited, 10, { idempotencyKey: "tx-1" });
 * } catch (e) {
 *   if (e instanceof IdempotencyConflictError) console.log(e.existingEntity); // account:1
 * }
 * store.close();
 * ```
 */
export class IdempotencyConflictError extends StoreError {
  /** The entity the key was first used for (for an in-batch repeat, the earlier item's). */
  readonly existingEntity: string;
  /** The entity of the rejected append. */
  readonly entity: string;
  /** Build the error; `detail` says which use collided. */
  constructor(existingEntity: string, entity: string, detail: string) {
    super("IDEMPOTENCY_CONFLICT", `idempotency key conflict: ${detail}`);
    this.existingEntity = existingEntity;
    this.entity = entity;
  }
}

/**
 * The device is full (ENOSPC, EDQUOT, or a browser's storage quota). Nothing
 * of the failed call was written, the store stays usable for reads, and an
 * append succeeds again once space frees.
 *
 * @example
 * ```ts
 * import { StorageFullError, StoreError } from "@seed/batpak";
 * const e = new StorageFullError("write", "/db/000001.fbat");
 * console.log(e instanceof StoreError, e.code); // true STORAGE_FULL
 * ```
 */
export class StorageFullError extends StoreError {
  /** The path whose write needed the space. */
  readonly path: string;
  /** Build the error for operation `op` on `path`, keeping the cause. */
  constructor(op: string, path: string, options?: ErrorOptions) {
    super("STORAGE_FULL", `${op} '${path}': no space left on the device`, options);
    this.path = path;
  }
}

/** What an {@linkcode IoError} reports, independent of the runtime. */
export type IoErrorKind =
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "not_a_directory"
  | "is_a_directory"
  | "invalid_path"
  | "io";

/**
 * A storage operation failed (the storage port's error, the same on every
 * runtime): `kind` says how, `cause` holds the runtime's own error.
 *
 * @example
 * ```ts
 * import { IoError, Store } from "@seed/batpak";
 * const file = Deno.makeTempFileSync();
 * try {
 *   Store.open(`${file}/db`); // the parent is a file
 * } catch (e) {
 *   if (e instanceof IoError) console.log(e.code, e.kind); // IO_ERROR not_a_directory
 * }
 * ```
 */
export class IoError extends StoreError {
  /** How the operation failed. */
  readonly kind: IoErrorKind;
  /** The path the operation was on. */
  readonly path: string;
  /** Build the error; `detail` is the runtime's message. */
  constructor(kind: IoErrorKind, op: string, path: string, detail: string, options?: ErrorOptions) {
    super("IO_ERROR", `${op} '${path}' failed (${kind}): ${detail}`, options);
    this.kind = kind;
    this.path = path;
  }
}

/**
 * An earlier I/O failure stopped the writer: appends are refused until the
 * store is reopened (reads keep working). `cause` holds the failure. Distinct
 * from {@linkcode StoreClosedError}, which means the caller closed the store.
 *
 * @example
 * ```ts
 * import { StoreError, WriterPoisonedError } from "@seed/batpak";
 * const e = new WriterPoisonedError(new Error("EIO"));
 * console.log(e instanceof StoreError, e.code); // true WRITER_POISONED
 * ```
 */
export class WriterPoisonedError extends StoreError {
  /** Build the error around the failure that poisoned the writer. */
  constructor(cause: unknown) {
    super(
      "WRITER_POISONED",
      `the writer stopped after an I/O failure (${
        (cause as Error)?.message ?? String(cause)
      }); reads still work, reopen the store to write again`,
      { cause },
    );
  }
}

/**
 * A write was attempted on a store opened with `readOnly: true`.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, ReadOnlyError, Store } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * Store.open(dir).close();
 * const reader = Store.open({ dataDir: dir, readOnly: true });
 * try {
 *   (reader as unknown as Store).append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
 * } catch (e) {
 *   console.log(e instanceof ReadOnlyError); // true
 * }
 * reader.close();
 * ```
 */
export class ReadOnlyError extends StoreError {
  /** Build the error. */
  constructor() {
    super("READ_ONLY", "the store was opened with readOnly: true; it cannot write");
  }
}

/**
 * Two names for one kind number (or one name for two kind numbers) in one
 * store: a kind's name, once recorded (`kinds.dat`) or registered
 * (`StoreConfig.kinds`), is fixed. Also thrown when an append's typed kind
 * disagrees with the definition the store registered (another schema
 * version). Nothing was written.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, KindConflictError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const coord = new Coordinate("acct:1", "bank");
 * store.append(coord, EventKind.define<{ amount: number }>(0x1, 4, "Deposited"), { amount: 1 });
 * try {
 *   store.append(coord, EventKind.define<{ amount: number }>(0x1, 4, "Paid"), { amount: 1 });
 * } catch (e) {
 *   if (e instanceof KindConflictError) console.log(e.code, e.recorded, e.attempted); // KIND_CONFLICT Deposited Paid
 * }
 * store.close();
 * ```
 */
export class KindConflictError extends StoreError {
  /** The kind number. */
  readonly kind: number;
  /** What the store has for it (a name, or `name vN`). */
  readonly recorded: string;
  /** What was given instead. */
  readonly attempted: string;
  /** Build the error; `message` says where and what to do. */
  constructor(kind: number, recorded: string, attempted: string, message: string) {
    super("KIND_CONFLICT", message);
    this.kind = kind;
    this.recorded = recorded;
    this.attempted = attempted;
  }
}

/**
 * An event could not be brought to its kind's current schema version: its
 * upcaster threw (`reason: "upcaster_threw"`, the error in `cause`), or the
 * event was written at a newer version than this code knows (`reason:
 * "newer_version"`: never guessed at). Names the kind and the version. The
 * read fails; the store stays usable and the stored event is unchanged.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store, UpcastError } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const V1 = EventKind.define<{ amount: number }>(0x1, 4, "Deposited");
 * const first = Store.open(dir);
 * const { eventId } = first.append(new Coordinate("acct:1", "bank"), V1, { amount: 1 });
 * first.close();
 * const V2 = EventKind.define<{ cents: number }>(0x1, 4, "Deposited", {
 *   version: 2,
 *   upcast: { 1: () => { throw new Error("not yet"); } },
 * });
 * const store = Store.open({ dataDir: dir, kinds: [V2] });
 * try {
 *   store.get(eventId);
 * } catch (e) {
 *   if (e instanceof UpcastError) console.log(e.code, e.kindName, e.version, e.reason); // UPCAST_FAILED Deposited 1 upcaster_threw
 * }
 * store.close();
 * ```
 */
export class UpcastError extends StoreError {
  /** The kind number. */
  readonly kind: number;
  /** The kind's name. */
  readonly kindName: string;
  /** The version the failing step started from (for `"newer_version"`: the event's). */
  readonly version: number;
  /** What went wrong. */
  readonly reason: "upcaster_threw" | "newer_version";
  /** Build the error; `message` names the kind, the version and the event. */
  constructor(
    kind: number,
    kindName: string,
    version: number,
    reason: "upcaster_threw" | "newer_version",
    message: string,
    options?: ErrorOptions,
  ) {
    super("UPCAST_FAILED", message, options);
    this.kind = kind;
    this.kindName = kindName;
    this.version = version;
    this.reason = reason;
  }
}

/**
 * An internal invariant of the store did not hold: a bug in the store, not
 * in the caller's input. The call changed nothing it could not undo; please
 * report it with the message.
 *
 * @example
 * ```ts
 * import { InternalError, StoreError } from "@seed/batpak";
 * const e = new InternalError("index rows must be added in order");
 * console.log(e instanceof StoreError, e.code); // true INTERNAL
 * ```
 */
export class InternalError extends StoreError {
  /** Build the error; `message` names the invariant. */
  constructor(message: string) {
    super("INTERNAL", `internal invariant violated (a bug in the store): ${message}`);
  }
}
