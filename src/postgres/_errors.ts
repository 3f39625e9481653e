/**
 * Driver and server errors become typed `StoreError`s naming the statement
 * that failed and the server (never its password). Nothing the `postgres`
 * client throws reaches the caller as is.
 *
 * @module
 */

import { IoError, type IoErrorKind, StorageFullError, StoreError } from "../core/errors.ts";

/** SQLSTATEs the append transaction retries (a fresh transaction decides again). */
export const SQLSTATE = {
  UniqueViolation: "23505",
  DivisionByZero: "22012",
  SerializationFailure: "40001",
  DeadlockDetected: "40P01",
  QueryCanceled: "57014",
  AdminShutdown: "57P01",
  DiskFull: "53100",
  InsufficientPrivilege: "42501",
  InvalidCatalogName: "3D000",
} as const;

/** The SQLSTATE of a server error, or undefined for anything else. */
export function sqlState(e: unknown): string | undefined {
  const err = e as { name?: unknown; code?: unknown };
  return err?.name === "PostgresError" && typeof err.code === "string" ? err.code : undefined;
}

/** The violated constraint of a server error, if it names one. */
export function constraintOf(e: unknown): string | undefined {
  const c = (e as { constraint_name?: unknown })?.constraint_name;
  return typeof c === "string" ? c : undefined;
}

/** Connection-level failures of the client (the server went away, or never answered). */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** True when `e` says the connection is gone (the next call reconnects). */
export function isConnectionLoss(e: unknown): boolean {
  const state = sqlState(e);
  if (state !== undefined) return state.startsWith("08") || state.startsWith("57P");
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && CONNECTION_CODES.has(code);
}

function kindOf(state: string | undefined): IoErrorKind {
  if (state === SQLSTATE.InsufficientPrivilege || state?.startsWith("28")) {
    return "permission_denied";
  }
  if (state === SQLSTATE.InvalidCatalogName) return "not_found";
  return "io";
}

/**
 * The typed error for `e`, thrown by `statement` against `where` (the
 * redacted URL and schema). A `StoreError` passes through unchanged.
 * `write` says what a failed write left behind: `"none"` (its transaction
 * rolled back) or `"unknown"` (the connection was lost while COMMIT was in
 * flight: it may or may not have committed).
 */
export function storeErrorOf(
  e: unknown,
  statement: string,
  where: string,
  write?: "none" | "unknown",
): StoreError {
  if (e instanceof StoreError) return e;
  const state = sqlState(e);
  const message = (e as Error)?.message ?? String(e);
  if (state === SQLSTATE.DiskFull) {
    return new StorageFullError(`postgres ${statement}`, where, { cause: e });
  }
  let detail = state ? `${message} (SQLSTATE ${state})` : message;
  if (state === undefined && isConnectionLoss(e)) {
    detail = `connection lost (${(e as { code?: string }).code}): ${message}`;
  }
  if (write === "unknown" && isConnectionLoss(e)) {
    detail += "; the transaction may or may not have committed: " +
      "retry with the same idempotencyKey to append exactly once";
  } else if (write === "none") {
    detail += "; nothing was written";
  }
  if (isConnectionLoss(e)) detail += "; the next call reconnects";
  return new IoError(kindOf(state), `postgres ${statement}`, where, detail, { cause: e });
}
