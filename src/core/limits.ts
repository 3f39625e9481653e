/**
 * The store's limits, each a named constant with its unit in the name. The
 * frame layout fixes most of them (u32 offsets and global sequences, u16
 * name lengths); the rest bound the work one call can ask for.
 *
 * @module
 */

/**
 * Largest frame body, bytes (16 MiB). Larger payloads are rejected with
 * `PayloadTooLargeError` before anything is written.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, FRAME_BODY_BYTES_MAX, PayloadTooLargeError, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * try {
 *   store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), new Uint8Array(FRAME_BODY_BYTES_MAX));
 * } catch (e) {
 *   console.log(e instanceof PayloadTooLargeError, store.diagnostics().events); // true 0
 * }
 * store.close();
 * ```
 */
export const FRAME_BODY_BYTES_MAX = 16 * 1024 * 1024;

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
 * Largest encoded batch (all its frames), bytes (256 MiB): a batch is
 * written into one segment and encoded in memory first, so this bounds both
 * the memory one call takes and how far past `segmentMaxBytes` a segment can
 * grow. A larger batch throws `PayloadTooLargeError` before anything is
 * written.
 *
 * @example
 * ```ts
 * import { BATCH_BYTES_MAX } from "@seed/batpak";
 * console.log(BATCH_BYTES_MAX / 2 ** 20); // 256
 * ```
 */
export const BATCH_BYTES_MAX = 256 * 1024 * 1024;

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

/** Default segment rotation size, bytes (64 MiB). */
export const SEGMENT_MAX_BYTES_DEFAULT = 64 * 1024 * 1024;
/** Smallest accepted `segmentMaxBytes`. */
export const SEGMENT_MAX_BYTES_MIN = 256;
/**
 * Largest accepted `segmentMaxBytes` (2 GiB). Offsets in the index and its
 * sidecars are u32: a segment holds at most this plus one batch
 * ({@linkcode BATCH_BYTES_MAX}), which stays below 4 GiB.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError, SEGMENT_MAX_BYTES_MAX, Store } from "@seed/batpak";
 * try {
 *   Store.open({ dataDir: Deno.makeTempDirSync(), segmentMaxBytes: SEGMENT_MAX_BYTES_MAX + 1 });
 * } catch (e) {
 *   console.log(e instanceof InvalidArgumentError); // true
 * }
 * ```
 */
export const SEGMENT_MAX_BYTES_MAX = 2 * 1024 * 1024 * 1024;
/** Largest segment file the recovery scan reads: offsets are u32. */
export const SEGMENT_FILE_BYTES_MAX = 0xffff_ffff;

/** Longest string idempotency key, UTF-8 bytes. */
export const IDEMPOTENCY_KEY_BYTES_MAX = 1024;
/** Largest bigint idempotency key (128 bits). */
export const BIGINT_KEY_MAX: bigint = (1n << 128n) - 1n;

/** Deepest payload nesting accepted. */
export const PAYLOAD_DEPTH_MAX = 64;

/**
 * Latest time the clock may return, epoch ms (2^47, the year 6429): event
 * ids hold a 48-bit millisecond timestamp, and the half left over is room
 * for the id counter to run ahead of a stalled clock without wrapping.
 */
export const CLOCK_MS_MAX = 2 ** 47;

/** Default `sync.everyNEvents`. */
export const SYNC_EVERY_N_EVENTS_DEFAULT = 1000;
/** Default `fdBudget`. */
export const FD_BUDGET_DEFAULT = 64;
/** A checkpoint is written once this many events arrived since the last one (and at least a quarter of the log). */
export const CHECKPOINT_EVERY_EVENTS_MIN = 65_536;
