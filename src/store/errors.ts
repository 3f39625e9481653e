/**
 * Every error the store throws extends {@linkcode StoreError} and carries a
 * stable string `code`, so callers can branch without parsing messages.
 *
 * @module
 */

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
  readonly code: string;
  /** Build an error with a stable `code`. */
  constructor(code: string, message: string, options?: ErrorOptions) {
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
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
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
 * Another `Store` (in this or another process) holds the directory lock.
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
  /** Build the error for `dataDir`. */
  constructor(dataDir: string) {
    super(
      "STORE_LOCKED",
      `store directory "${dataDir}" is locked by another open Store (this or another process); ` +
        `close it first`,
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
