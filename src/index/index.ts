/**
 * The in-memory index: one row per event, stored column-wise in typed-array
 * pages of {@linkcode PAGE_ROWS} rows, plus per-entity and per-scope postings
 * (global sequences in order) and an open-addressing id table. About 60 bytes
 * per event; no per-event JavaScript objects.
 *
 * Row `g - 1` holds the event with global sequence `g`. Two fields are not
 * stored as columns because they are derivable: an event's sequence in its
 * stream is its position in the entity's postings plus one (`Engine.apply`
 * asserts it), and its timestamp is kept as the number of milliseconds its
 * UUIDv7 id's timestamp is ahead of it (0 unless the clock stalled or went
 * back), an `Int32` counted from its page's first such lag; the rare
 * timestamp that does not fit is kept in a map.
 *
 * @module
 */

import type { EventId, IdWords } from "../core/ids.ts";
import { formatId } from "../core/ids.ts";
import type { EventKind } from "../core/kind.ts";
import type { IndexEntry } from "../core/types.ts";
import { HASH_BYTES } from "../core/hash.ts";

/** Rows per column page (2^16). */
export const PAGE_BITS = 16;
/** Rows per column page. */
export const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;
const POSTING_INITIAL = 4;
const ID_TABLE_INITIAL = 1 << 12;
/** A deferred tail shorter than 1/this of the events is inserted into the table as it is. */
const ID_REBUILD_RATIO = 8;

/** Slots of an id table for `count` events: a power of two above twice the count. */
function idTableSize(count: number): number {
  let size = ID_TABLE_INITIAL;
  while (size < count * 2 + 2) size *= 2;
  return size;
}

/** One page of columns. */
export interface Page {
  seg: Uint32Array;
  off: Uint32Array;
  len: Uint32Array;
  ent: Uint32Array;
  scp: Uint32Array;
  kind: Uint16Array;
  /**
   * The id's millisecond timestamp minus the event's timestamp, or
   * {@linkcode LAG_ELSEWHERE} when that does not fit (see `Index.timestamps`).
   */
  lag: Int32Array;
  /** Four u32 words per row. */
  id: Uint32Array;
}

/** A `Page.lag` value saying the timestamp is in `Index.timestamps`. */
export const LAG_ELSEWHERE = -0x80000000;

/** A column as the sidecars store it. */
export interface Column {
  name: keyof Page;
  /** Bytes per element. */
  width: number;
  /** Elements per row. */
  words: number;
  /** A view of `length` elements at byte `offset` of `buffer`. */
  view(buffer: ArrayBufferLike, offset: number, length: number): ArrayBufferView;
}

const u32 = (b: ArrayBufferLike, o: number, n: number) => new Uint32Array(b, o, n);

/** Columns in file order (for sidecars). */
export const COLUMNS: readonly Column[] = [
  { name: "lag", width: 4, words: 1, view: (b, o, n) => new Int32Array(b, o, n) },
  { name: "id", width: 4, words: 4, view: u32 },
  { name: "seg", width: 4, words: 1, view: u32 },
  { name: "off", width: 4, words: 1, view: u32 },
  { name: "len", width: 4, words: 1, view: u32 },
  { name: "ent", width: 4, words: 1, view: u32 },
  { name: "scp", width: 4, words: 1, view: u32 },
  { name: "kind", width: 2, words: 1, view: (b, o, n) => new Uint16Array(b, o, n) },
];

/** The millisecond timestamp of a UUIDv7 from its first two words. */
export function idMs(w0: number, w1: number): number {
  return w0 * 0x10000 + (w1 >>> 16);
}

/**
 * The lag of an event with timestamp `ms` and id words `w0, w1` on a page
 * whose lags count from `base`, or {@linkcode LAG_ELSEWHERE} when it does
 * not fit an `Int32`.
 */
export function lagOf(w0: number, w1: number, ms: number, base: number): number {
  const lag = idMs(w0, w1) - ms - base;
  return (lag | 0) === lag && lag !== LAG_ELSEWHERE ? lag : LAG_ELSEWHERE;
}

/**
 * The base a page's lags count from, set by its first event: its own lag
 * (0 for a usable clock). After the clock is set back by weeks, ids keep
 * the later time until the clock catches up, so every event's lag is
 * weeks: counted from the page's first lag, they still fit, and only the
 * rest of the page where the jump happened goes to the side table.
 */
export function lagBaseOf(w0: number, w1: number, ms: number): number {
  const lag = idMs(w0, w1) - ms;
  return Number.isSafeInteger(lag) ? lag : 0;
}

/** Bytes of columns per row. */
const ROW_BYTES = COLUMNS.reduce((n, c) => n + c.width * c.words, 0);

/** Allocate an empty page. */
export function newPage(): Page {
  return pageOf({
    seg: new Uint32Array(PAGE_ROWS),
    off: new Uint32Array(PAGE_ROWS),
    len: new Uint32Array(PAGE_ROWS),
    ent: new Uint32Array(PAGE_ROWS),
    scp: new Uint32Array(PAGE_ROWS),
    kind: new Uint16Array(PAGE_ROWS),
    lag: new Int32Array(PAGE_ROWS),
    id: new Uint32Array(PAGE_ROWS * 4),
  });
}

/**
 * A page over the given columns, its properties always created in one
 * order: every page has one hidden class, so each place that reads a
 * column sees one shape (pages built two ways made every read site
 * polymorphic).
 */
export function pageOf(c: Page): Page {
  return {
    seg: c.seg,
    off: c.off,
    len: c.len,
    ent: c.ent,
    scp: c.scp,
    kind: c.kind,
    lag: c.lag,
    id: c.id,
  };
}

/**
 * Where the first entries of a list read lazily from an index image come
 * from: `load(list)` returns them, checked, or throws (and is asked again
 * at the next use).
 */
export interface ListLoader {
  /** The first `length` entries of list `list`. */
  load(list: number, length: number): Uint32Array;
}

/** A growable list of global sequences (ascending). */
export class Postings {
  #items: Uint32Array;
  /** Entries in use. */
  length = 0;
  /** While the first entries are not read yet (see {@linkcode Postings.lazy}). */
  #loader: ListLoader | undefined;
  #list = 0;
  #pending = 0;
  constructor(capacity = POSTING_INITIAL) {
    this.#items = new Uint32Array(capacity);
  }
  /** Postings over an existing array, all of it in use (grows by copying on the next push). */
  static over(items: Uint32Array): Postings {
    const p = new Postings(0);
    p.#items = items;
    p.length = items.length;
    return p;
  }
  /**
   * A list whose first `length` entries are read by `loader.load(list)` when
   * first used: its length is known (and appends go after it) without them.
   */
  static lazy(length: number, loader: ListLoader, list: number): Postings {
    const p = new Postings(0);
    p.length = length;
    if (length > 0) {
      p.#loader = loader;
      p.#list = list;
      p.#pending = length;
    }
    return p;
  }
  /** True while the first entries have not been read. */
  get pending(): boolean {
    return this.#loader !== undefined;
  }
  /** Backing array; only the first `length` entries are used. */
  get items(): Uint32Array {
    if (this.#loader !== undefined) this.#fill(this.#loader);
    return this.#items;
  }
  #fill(loader: ListLoader): void {
    const first = loader.load(this.#list, this.#pending);
    if (first.length !== this.#pending) {
      throw new RangeError(
        `list ${this.#list}: read ${first.length} entries, expected ${this.#pending}`,
      );
    }
    this.#loader = undefined;
    if (this.length === this.#pending) {
      this.#items = first;
    } else {
      // Appended to before it was read: the appends sit after a gap of its length.
      this.#items.set(first, 0);
    }
  }
  /** Append one global sequence (never reads: a list read lazily keeps a gap for its start). */
  push(g: number): void {
    if (this.length >= this.#items.length) {
      const grown = new Uint32Array(
        Math.max(POSTING_INITIAL, this.#items.length * 2, this.length + 1),
      );
      // A list not read yet has a gap for its first entries: the appends keep their places.
      grown.set(this.#items);
      this.#items = grown;
    }
    this.#items[this.length++] = g;
  }
  /** Index of the first entry greater than `after`. */
  firstAfter(after: number): number {
    const items = this.items;
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid] <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A named dimension (entities or scopes): names, ids and postings. */
export class Dimension {
  /** Id → name. */
  readonly names: string[] = [];
  /** Name → id. */
  readonly ids: Map<string, number> = new Map();
  /** Id → postings. */
  readonly postings: Postings[] = [];

  /** The id of `name`, or -1. */
  lookup(name: string): number {
    return this.ids.get(name) ?? -1;
  }

  /** The id of `name`, adding it when new. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
      this.postings.push(new Postings());
    }
    return id;
  }
}

/** The posting lists of one dimension as an index image stores them: the lengths, then all of them. */
export interface PostingLists {
  /** Length of each list (one per entity or scope id). */
  counts: Uint32Array;
  /** The lists back to back. */
  all: Uint32Array;
}

/**
 * Why `lists` are not the postings of a dimension whose id for event `g` is
 * `owners[g - 1]`, or `undefined`: each list ascending and holding only
 * events whose row names it; the lengths adding up to the event count, every
 * event is then in exactly one.
 */
function checkPostings(
  lists: PostingLists,
  count: number,
  owners: Uint32Array,
): string | undefined {
  const { counts, all } = lists;
  if (all.length !== count) return "postings do not cover every event exactly once";
  let i = 0;
  for (let l = 0; l < counts.length; l++) {
    const end = i + counts[l];
    if (end > count) return "postings do not cover every event exactly once";
    let prev = 0;
    for (; i < end; i++) {
      const g = all[i];
      if (g <= prev || g > count) return "postings out of order or out of range";
      if (owners[g - 1] !== l) return "a posting list holds another entity's or scope's event";
      prev = g;
    }
  }
  return i === count ? undefined : "postings do not cover every event exactly once";
}

/**
 * Where the pages, lists and id table of an index image read lazily come
 * from (see `sidecar.ts`): each is read and checked when first used.
 */
export interface IndexSource {
  /** Rows the image holds (events 1 .. rows). */
  readonly rows: number;
  /** Page `p`, its bytes and rows checked; throws when it cannot be read or fails. */
  page(p: number): Page;
  /**
   * List `list` of dimension `dim` (0 entities, 1 scopes) as stored, or
   * `undefined` when its bytes fail their check (recorded as damage).
   */
  list(dim: 0 | 1, list: number): Uint32Array | undefined;
  /** The id table as stored, or `undefined` when its bytes fail their check. */
  idTable(): Uint32Array | undefined;
  /** Record that the image fails a check (`reason`); returns the error to throw. */
  damage(reason: string): Error;
  /** Why the image was found damaged, if it was. */
  readonly damaged: string | undefined;
  /** Close the image (idempotent). */
  close(): void;
}

/**
 * Why `g`, the last of the `length` events an index image lists for entity
 * `entity`, is not that entity's last event as the log holds it (its frame's
 * stream sequence is not `length`, or its hash is not the entity's last
 * hash), or `undefined` (also when that frame is damaged: the log's fault,
 * which the read reaching it reports). With the list holding only that
 * entity's events in order, both holding means it misses none.
 */
export type ListEndCheck = (entity: number, g: number, length: number) => string | undefined;

/** Where an event's frame lives. */
export interface FrameLocation {
  segment: number;
  offset: number;
  length: number;
}

/**
 * The columnar index of every event in the log.
 */
export class Index {
  /** Column pages; `undefined` while a page of an image read lazily is not read yet. */
  #pages: (Page | undefined)[] = [];
  /** Where pages not read yet come from (an index image read lazily), until all are read. */
  #source: IndexSource | undefined;
  /** What the source was found to be damaged by, once it is let go. */
  #damaged: string | undefined;
  /** True while {@linkcode readAll} reads the lists (their ends are checked together). */
  #bulk = false;
  /** Events indexed; also the last global sequence. */
  count = 0;
  /** Entities. */
  readonly entities: Dimension = new Dimension();
  /** Scopes. */
  readonly scopes: Dimension = new Dimension();
  /** Last event hash of each entity, 32 bytes per entity id. */
  entityHashes: Uint8Array = new Uint8Array(HASH_BYTES * 64);
  /** Idempotency key string → global sequence. */
  readonly keys: Map<string, number> = new Map();
  /** Per page, the base its lags count from (see {@linkcode lagBaseOf}). */
  lagBases: number[] = [];
  /** Global sequence → timestamp, for the rows whose lag is {@linkcode LAG_ELSEWHERE}. */
  readonly timestamps: Map<number, number> = new Map();
  #idTable: Uint32Array = new Uint32Array(ID_TABLE_INITIAL);
  /** True while ids are not inserted as events are added (see {@linkcode deferIds}). */
  #idsDeferred = false;
  /**
   * False while the id table is one read from an index image rather than
   * built here: adopting it checks its size, that it names no unknown event
   * and holds as many as there are, but not that each event sits on its
   * probe path (that costs what a build does). A lookup it answers is
   * always checked against the id column, so it is never wrong; a lookup it
   * misses could be a misplaced event, so the first miss rebuilds the table
   * from the columns once ({@linkcode idTableBuilds} counts the builds).
   */
  #idsTrusted = true;
  #idTableBuilds = 0;
  /** True while the id table is still the one in the image read lazily (see {@linkcode attachSource}). */
  #idsFromSource = false;
  /** While deferred: the events the id table holds (1 .. this). */
  #idsUpTo = 0;

  /**
   * Add a row; returns its global sequence. The event's sequence in its
   * stream is not passed: it is the entity's next one (the caller checks).
   */
  add(
    segment: number,
    offset: number,
    length: number,
    entity: number,
    scope: number,
    kind: number,
    timestampMs: number,
    id: IdWords,
  ): number {
    const i = this.count;
    const p = i >>> PAGE_BITS;
    if (p === this.#pages.length) this.#pages.push(newPage());
    let page = this.page(p);
    const r = i & PAGE_MASK;
    if (r === page.seg.length) page = this.#growPage(p);
    page.seg[r] = segment;
    page.off[r] = offset;
    page.len[r] = length;
    page.ent[r] = entity;
    page.scp[r] = scope;
    page.kind[r] = kind;
    page.id[r * 4] = id[0];
    page.id[r * 4 + 1] = id[1];
    page.id[r * 4 + 2] = id[2];
    page.id[r * 4 + 3] = id[3];
    const g = ++this.count;
    if (r === 0) this.lagBases[p] = lagBaseOf(id[0], id[1], timestampMs);
    const lag = lagOf(id[0], id[1], timestampMs, this.lagBases[p]);
    page.lag[r] = lag;
    if (lag === LAG_ELSEWHERE) this.timestamps.set(g, timestampMs);
    this.entities.postings[entity].push(g);
    this.scopes.postings[scope].push(g);
    if (!this.#idsDeferred) this.#insertId(id[3], g);
    return g;
  }

  /**
   * Page `p`, a short one an index image ended with, copied into a whole
   * page: an open does not allocate and copy up to a page of columns
   * (2.9 MB) that only a writer needs.
   */
  #growPage(p: number): Page {
    const short = this.page(p);
    const page = newPage();
    for (const c of COLUMNS) (page[c.name] as Uint32Array).set(short[c.name] as Uint32Array);
    this.#pages[p] = page;
    return page;
  }

  /**
   * The pages as they are now, `undefined` where not read yet: for read
   * loops, which take `pages[p] ?? index.page(p)` (one array load per row
   * instead of a call).
   */
  get loadedPages(): readonly (Page | undefined)[] {
    return this.#pages;
  }

  /** Number of column pages (read or not). */
  get pageCount(): number {
    return this.#pages.length;
  }

  /**
   * Column page `p`, read from the index image when first asked for (which
   * throws when the image cannot be read or its bytes fail their checks).
   */
  page(p: number): Page {
    return this.#pages[p] ?? this.#readPage(p);
  }

  #readPage(p: number): Page {
    const source = this.#source;
    if (source === undefined || p >= this.#pages.length) {
      throw new RangeError(`index page ${p} of ${this.#pages.length}`);
    }
    const page = source.page(p);
    this.#pages[p] = page;
    return page;
  }

  /** True when page `p` is in memory (not waiting to be read from the image). */
  pageRead(p: number): boolean {
    return this.#pages[p] !== undefined;
  }

  /** Install pages read in full (an index image or checkpoint read at once). */
  setPages(pages: Page[], count: number): void {
    this.#pages = pages;
    this.count = count;
  }

  /**
   * Read rows, lists and the id table from `source` as they are first used:
   * `pageCount` pages holding `count` rows, and per entity and scope the
   * length of its list. Nothing is read here.
   */
  attachSource(
    source: IndexSource,
    pageCount: number,
    count: number,
    entityCounts: Uint32Array,
    scopeCounts: Uint32Array,
  ): void {
    this.#source = source;
    // Packed, not holey (`new Array(n)`): every read of a page goes through this array.
    this.#pages = Array.from({ length: pageCount }, () => undefined);
    this.count = count;
    const loaders = [0, 1].map((dim): ListLoader => ({
      load: (list, length) => this.#readList(source, dim as 0 | 1, list, length),
    }));
    for (
      const [dim, counts, l] of [
        [this.entities, entityCounts, loaders[0]],
        [this.scopes, scopeCounts, loaders[1]],
      ] as const
    ) {
      for (let i = 0; i < counts.length; i++) dim.postings[i] = Postings.lazy(counts[i], l, i);
    }
    this.#idsDeferred = true;
    this.#idsUpTo = count;
    this.#idsFromSource = true;
    this.#idTable = new Uint32Array(ID_TABLE_INITIAL);
  }

  /**
   * List `list` of dimension `dim` (0 entities, 1 scopes) from the source,
   * checked: ascending, within the rows the source holds, and each naming
   * that entity (scope) in its row. That no list misses an event follows
   * from every list passing this with the lengths adding up to the event
   * count (checked at open); an entity's list is also checked against the
   * log ({@linkcode listEnd}), and {@linkcode checkDerived} checks all of
   * them whole. A list whose bytes or entries fail is built from the rows
   * instead (the source records the damage); `length` is what the image says
   * it holds.
   */
  #readList(source: IndexSource, dim: 0 | 1, list: number, length: number): Uint32Array {
    const items = source.list(dim, list);
    // Read whole: every list is checked against the rows together, after (see readAll); one
    // unreadable here fails that check, and all are built from the rows.
    if (this.#bulk) return items ?? new Uint32Array(length);
    const problem = items === undefined
      ? undefined
      : this.#listProblem(items, dim, list, source.rows) ?? this.#endProblem(dim, list, items);
    if (items !== undefined && problem === undefined) return items;
    if (problem !== undefined) source.damage(problem);
    const built = this.#listFromRows(dim, list, source.rows);
    const still = built.length !== length
      ? "a posting list's length disagrees with the rows"
      : this.#endProblem(dim, list, built);
    // The image's list lengths or rows disagree with the log: no list of it can be trusted.
    if (still !== undefined) throw source.damage(still);
    return built;
  }

  /**
   * Checks an entity's list read from an image against the log (see
   * {@linkcode listEnd}), before any append continues from its length.
   */
  listEnd: ListEndCheck | undefined;

  /** Why entity list `items` of `list` does not end where the log says it does, or `undefined`. */
  #endProblem(dim: 0 | 1, list: number, items: Uint32Array): string | undefined {
    if (dim !== 0 || items.length === 0 || this.listEnd === undefined || this.#bulk) {
      return undefined;
    }
    return this.listEnd(list, items[items.length - 1], items.length);
  }

  #listProblem(items: Uint32Array, dim: 0 | 1, list: number, rows: number): string | undefined {
    let prev = 0;
    for (let i = 0; i < items.length; i++) {
      const g = items[i];
      if (g <= prev || g > rows) return "postings out of order or out of range";
      const r = g - 1;
      const page = this.page(r >>> PAGE_BITS);
      if ((dim === 0 ? page.ent : page.scp)[r & PAGE_MASK] !== list) {
        return "a posting list holds another entity's or scope's event";
      }
      prev = g;
    }
    return undefined;
  }

  /** The events 1 .. `rows` whose row names entity (scope) `list`, from every page. */
  #listFromRows(dim: 0 | 1, list: number, rows: number): Uint32Array {
    const out: number[] = [];
    for (let p = 0, base = 0; base < rows; p++, base += PAGE_ROWS) {
      const page = this.page(p);
      const column = dim === 0 ? page.ent : page.scp;
      const n = Math.min(PAGE_ROWS, rows - base);
      for (let r = 0; r < n; r++) if (column[r] === list) out.push(base + r + 1);
    }
    return Uint32Array.from(out);
  }

  /** Why the image this index reads lazily cannot be trusted (found while reading it), if it was. */
  get damaged(): string | undefined {
    return this.#source?.damaged ?? this.#damaged;
  }

  /**
   * Read every page, list and the id table still in the image, then let the
   * image go (its file is closed): before the image is replaced or removed,
   * and before a whole-index pass. Throws as {@linkcode page} does.
   */
  readAll(): void {
    const source = this.#source;
    if (source === undefined) return;
    for (let p = 0; p < this.#pages.length; p++) this.page(p);
    // The lists not read yet, without the checks of each one (its rows, its end in the log: a
    // frame read per entity): every row in memory now, one pass checks all of them against the
    // rows instead, and when they fail it, all are built from the rows.
    this.#bulk = true;
    try {
      for (const dim of [this.entities, this.scopes]) {
        for (const list of dim.postings) if (list.pending) list.items;
      }
    } finally {
      this.#bulk = false;
    }
    const problem = this.checkDerived();
    if (problem !== undefined) {
      source.damage(problem);
      this.rebuildDerived();
    }
    this.buildIds();
    this.#damaged = source.damaged;
    source.close();
    this.#source = undefined;
  }

  /** Close the image read lazily (what is not read yet can no longer be). */
  release(): void {
    this.#source?.close();
  }

  /** Record the latest hash of an entity. */
  setEntityHash(entity: number, hash: Uint8Array, at = 0): void {
    const need = (entity + 1) * HASH_BYTES;
    if (need > this.entityHashes.length) {
      const grown = new Uint8Array(Math.max(need, this.entityHashes.length * 2));
      grown.set(this.entityHashes);
      this.entityHashes = grown;
    }
    // A byte loop: a subarray per event cost more than the copy on the scan path.
    const hashes = this.entityHashes;
    const to = entity * HASH_BYTES;
    for (let i = 0; i < HASH_BYTES; i++) hashes[to + i] = hash[at + i];
  }

  /** True when the entity's latest hash equals `buf[at .. at+32]`. */
  entityHashEquals(entity: number, buf: Uint8Array, at: number): boolean {
    const hashes = this.entityHashes;
    const from = entity * HASH_BYTES;
    for (let i = 0; i < HASH_BYTES; i++) if (hashes[from + i] !== buf[at + i]) return false;
    return true;
  }

  /** The latest hash of an entity (a view; copy before keeping). */
  entityHash(entity: number): Uint8Array {
    return this.entityHashes.subarray(entity * HASH_BYTES, (entity + 1) * HASH_BYTES);
  }

  /**
   * Last sequence of an entity id (0 when it has none). A list an image
   * holds is read (and checked) first: every append continues from here,
   * so the length must be the one the rows and the log agree on, not only
   * the one the image's head states.
   */
  lastSequence(entity: number): number {
    if (entity < 0) return 0;
    const list = this.entities.postings[entity];
    if (list.pending) list.items;
    return list.length;
  }

  /** The sequence of `g` in its stream: its position in the entity's postings, plus one. */
  sequenceOf(g: number): number {
    return this.entities.postings[this.entityOf(g)].firstAfter(g - 1) + 1;
  }

  /** The timestamp of `g`. */
  timestampOf(g: number): number {
    const i = g - 1;
    const page = this.page(i >>> PAGE_BITS);
    const r = i & PAGE_MASK;
    const lag = page.lag[r];
    if (lag === LAG_ELSEWHERE) return this.timestamps.get(g)!;
    return idMs(page.id[r * 4], page.id[r * 4 + 1]) - this.lagBases[i >>> PAGE_BITS] - lag;
  }

  #insertId(hashWord: number, g: number): void {
    let table = this.#idTable;
    if (this.count * 2 > table.length) {
      table = this.#idTable = this.#buildIdTable(g - 1, table.length * 2);
    }
    const mask = table.length - 1;
    let slot = hashWord & mask;
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = g;
  }

  /**
   * An id table of `size` slots holding events 1 .. `rows`, in one pass.
   * (Bucketing the events by home slot first, so each bucket's inserts stay
   * in a few kilobytes of the table, measured no faster here: 25-30 ms for
   * 1M events either way; the scatter into buckets costs what it saves.)
   */
  #buildIdTable(rows: number, size: number): Uint32Array {
    // Every caller installs the result: from now on the table is one built here.
    this.#idsTrusted = true;
    const table = new Uint32Array(size);
    const mask = size - 1;
    for (let p = 0, base = 0; base < rows; p++, base += PAGE_ROWS) {
      const id = this.page(p).id;
      const n = Math.min(PAGE_ROWS, rows - base);
      for (let r = 0; r < n; r++) {
        let slot = id[r * 4 + 3] & mask;
        while (table[slot] !== 0) slot = (slot + 1) & mask;
        table[slot] = base + r + 1;
      }
    }
    return table;
  }

  /**
   * Stop inserting ids as events are added, until the table is next needed
   * ({@linkcode findId}, {@linkcode idTable}) or {@linkcode buildIds}: a
   * replay adds its events first and builds the table once, at its size.
   */
  deferIds(): void {
    if (this.#idsDeferred) return;
    this.#idsDeferred = true;
    this.#idsUpTo = this.count;
  }

  /** Bring the id table up to date after {@linkcode deferIds}. */
  buildIds(): void {
    if (!this.#idsDeferred) return;
    if (this.#idsFromSource) {
      // The image's table, checked as adoptDerived does; one that fails is built here instead.
      const table = this.#source!.idTable();
      this.#idsFromSource = false;
      if (table !== undefined && this.#idTableProblem(table, this.#idsUpTo) === undefined) {
        this.#idTable = table;
        this.#idsTrusted = false;
      } else {
        this.#idsUpTo = 0;
        this.#idTable = new Uint32Array(ID_TABLE_INITIAL);
        this.#idTableBuilds++;
      }
    }
    this.#idsDeferred = false;
    const count = this.count;
    const added = count - this.#idsUpTo;
    if (this.#idTable.length >= count * 2 && added * ID_REBUILD_RATIO < count) {
      // A short tail: inserted one by one into the table it already has.
      const table = this.#idTable;
      const mask = table.length - 1;
      for (let g = this.#idsUpTo + 1; g <= count; g++) {
        let slot = this.#word(g, 3) & mask;
        while (table[slot] !== 0) slot = (slot + 1) & mask;
        table[slot] = g;
      }
      return;
    }
    this.#idTable = this.#buildIdTable(count, idTableSize(count));
  }

  /**
   * Rebuild the postings from the columns (after a bulk load); the id table
   * follows when first needed (see {@linkcode deferIds}).
   */
  rebuildDerived(): void {
    const ent = this.entities.postings;
    const scp = this.scopes.postings;
    const entCounts = new Uint32Array(ent.length);
    const scpCounts = new Uint32Array(scp.length);
    for (let p = 0; p < this.#pages.length; p++) {
      const rows = Math.min(PAGE_ROWS, this.count - p * PAGE_ROWS);
      const page = this.page(p);
      for (let r = 0; r < rows; r++) {
        entCounts[page.ent[r]]++;
        scpCounts[page.scp[r]]++;
      }
    }
    for (let e = 0; e < ent.length; e++) {
      ent[e] = new Postings(Math.max(POSTING_INITIAL, entCounts[e]));
    }
    for (let s = 0; s < scp.length; s++) {
      scp[s] = new Postings(Math.max(POSTING_INITIAL, scpCounts[s]));
    }
    let g = 0;
    for (let p = 0; p < this.#pages.length; p++) {
      const rows = Math.min(PAGE_ROWS, this.count - p * PAGE_ROWS);
      const page = this.page(p);
      for (let r = 0; r < rows; r++) {
        g++;
        const e = ent[page.ent[r]];
        e.items[e.length++] = g;
        const s = scp[page.scp[r]];
        s.items[s.length++] = g;
      }
    }
    // The id table is built when first needed: after a replay of the tail, in one pass.
    this.#idTable = new Uint32Array(ID_TABLE_INITIAL);
    this.#idsTrusted = true;
    this.#idsDeferred = true;
    this.#idsUpTo = 0;
    this.#idsFromSource = false;
  }

  /** The open-addressing id table (slots hold global sequences, 0 = empty). */
  get idTable(): Uint32Array {
    this.buildIds();
    return this.#idTable;
  }

  /**
   * Adopt postings and an id table saved with the columns (an index image),
   * instead of rebuilding them; `columns` are the entity and scope columns
   * of every row, flat. Returns a problem description when they are
   * inconsistent with the columns, leaving the index unchanged: every event
   * must be in exactly one posting list of each dimension, the list of the
   * entity (scope) its row names, in order; the id table must hold every
   * event once.
   */
  adoptDerived(
    idTable: Uint32Array,
    entities: PostingLists,
    scopes: PostingLists,
    columns: { ent: Uint32Array; scp: Uint32Array },
  ): string | undefined {
    const count = this.count;
    if (
      entities.counts.length !== this.entities.names.length ||
      scopes.counts.length !== this.scopes.names.length
    ) {
      return "postings do not match the names";
    }
    const problem = checkPostings(entities, count, columns.ent) ??
      checkPostings(scopes, count, columns.scp) ?? this.#idTableProblem(idTable, count);
    if (problem) return problem;
    for (const [dim, lists] of [[this.entities, entities], [this.scopes, scopes]] as const) {
      let from = 0;
      for (let l = 0; l < lists.counts.length; l++) {
        const to = from + lists.counts[l];
        dim.postings[l] = Postings.over(lists.all.subarray(from, to));
        from = to;
      }
    }
    this.#idsDeferred = false;
    this.#idTable = idTable;
    this.#idsTrusted = false;
    return undefined;
  }

  /**
   * Why `table` cannot be the id table of events 1 .. `count`, or
   * `undefined`: its size, an unknown event, or not as many events as there
   * are (that each sits on its probe path is not checked: see `#idsTrusted`).
   */
  #idTableProblem(table: Uint32Array, count: number): string | undefined {
    const size = table.length;
    if (size < ID_TABLE_INITIAL || (size & (size - 1)) !== 0 || size < count * 2) {
      return "id table size is not a power of two above twice the event count";
    }
    // Branch-free: half the slots are empty at random, so `if (g !== 0)` mispredicted every
    // other slot (20 ms of a 1M-event open). `count - g` is negative when g is past the end;
    // `(g | -g) >>> 31` is 1 for any g in 1 .. 2^31 - 1.
    let filled = 0;
    let past = 0;
    for (let i = 0; i < size; i++) {
      const g = table[i];
      past |= count - g;
      filled += (g | -g) >>> 31;
    }
    if (past < 0) return "id table names an unknown event";
    if (filled !== count) return "id table does not hold every event";
    return undefined;
  }

  /**
   * Why the postings are not those of the rows, or `undefined`: every event
   * in exactly the list of its entity and of its scope, in order (reads
   * every page and list; `verify` asks).
   */
  checkDerived(): string | undefined {
    const count = this.count;
    for (const dim of [this.entities, this.scopes]) {
      const entities = dim === this.entities;
      let total = 0;
      for (let l = 0; l < dim.postings.length; l++) {
        const list = dim.postings[l];
        const items = list.items;
        let prev = 0;
        for (let i = 0; i < list.length; i++) {
          const g = items[i];
          if (g <= prev || g > count) return "postings out of order or out of range";
          const r = g - 1;
          const page = this.#pages[r >>> PAGE_BITS] ?? this.page(r >>> PAGE_BITS);
          if ((entities ? page.ent : page.scp)[r & PAGE_MASK] !== l) {
            return "a posting list holds another entity's or scope's event";
          }
          prev = g;
        }
        total += list.length;
      }
      // Each list holds only its own events, once each: with as many as there are events, every
      // event is in one.
      if (total !== count) return "postings do not cover every event exactly once";
    }
    return undefined;
  }

  #word(g: number, w: number): number {
    const i = g - 1;
    return this.page(i >>> PAGE_BITS).id[(i & PAGE_MASK) * 4 + w];
  }

  /** Global sequence of the event with this id, or 0. */
  findId(id: IdWords): number {
    this.buildIds();
    const g = this.#probe(id);
    if (g !== 0 || this.#idsTrusted) return g;
    // Not found in a table read from an image: only a table built here can say "no such event".
    this.#idTable = this.#buildIdTable(this.count, idTableSize(this.count));
    this.#idTableBuilds++;
    return this.#probe(id);
  }

  /** Times the id table read from an image was replaced by one built here (see `findId`). */
  get idTableBuilds(): number {
    return this.#idTableBuilds;
  }

  #probe(id: IdWords): number {
    const table = this.#idTable;
    const mask = table.length - 1;
    let slot = id[3] & mask;
    for (;;) {
      const g = table[slot];
      if (g === 0) return 0;
      if (
        this.#word(g, 3) === id[3] && this.#word(g, 2) === id[2] && this.#word(g, 1) === id[1] &&
        this.#word(g, 0) === id[0]
      ) return g;
      slot = (slot + 1) & mask;
    }
  }

  /** Page and row of global sequence `g`. */
  row(g: number): [Page, number] {
    const i = g - 1;
    return [this.page(i >>> PAGE_BITS), i & PAGE_MASK];
  }

  /** Where the frame of `g` lives. */
  location(g: number): FrameLocation {
    const [page, r] = this.row(g);
    return { segment: page.seg[r], offset: page.off[r], length: page.len[r] };
  }

  /** The event id of `g`. */
  eventId(g: number): EventId {
    const [page, r] = this.row(g);
    return formatId(page.id[r * 4], page.id[r * 4 + 1], page.id[r * 4 + 2], page.id[r * 4 + 3]);
  }

  /** The id words of `g`. */
  idWords(g: number): IdWords {
    const [page, r] = this.row(g);
    return [page.id[r * 4], page.id[r * 4 + 1], page.id[r * 4 + 2], page.id[r * 4 + 3]];
  }

  /** Kind of `g`. */
  kindOf(g: number): number {
    const i = g - 1;
    return this.page(i >>> PAGE_BITS).kind[i & PAGE_MASK];
  }

  /** Entity id of `g`. */
  entityOf(g: number): number {
    const i = g - 1;
    return this.page(i >>> PAGE_BITS).ent[i & PAGE_MASK];
  }

  /** Scope id of `g`. */
  scopeOf(g: number): number {
    const i = g - 1;
    return this.page(i >>> PAGE_BITS).scp[i & PAGE_MASK];
  }

  /** A lazily-formatted index entry for `g`. */
  entry(g: number): IndexEntry {
    return new EntryView(this, g);
  }

  /** Approximate bytes held by the index's typed arrays. */
  byteSize(): number {
    let bytes = this.#pages.filter((p) => p !== undefined).length * PAGE_ROWS * ROW_BYTES +
      this.#idTable.byteLength +
      this.entityHashes.byteLength;
    for (const p of this.entities.postings) bytes += p.items.byteLength;
    for (const p of this.scopes.postings) bytes += p.items.byteLength;
    return bytes;
  }
}

/**
 * An {@linkcode IndexEntry} backed by the index columns: creating one costs a
 * small object; the id string is formatted only when read.
 */
class EntryView implements IndexEntry {
  readonly #index: Index;
  /** Position in the log. */
  readonly globalSequence: number;
  constructor(index: Index, g: number) {
    this.#index = index;
    this.globalSequence = g;
  }
  get eventId(): EventId {
    return this.#index.eventId(this.globalSequence);
  }
  get entity(): string {
    return this.#index.entities.names[this.#index.entityOf(this.globalSequence)];
  }
  get scope(): string {
    return this.#index.scopes.names[this.#index.scopeOf(this.globalSequence)];
  }
  get kind(): EventKind {
    return this.#index.kindOf(this.globalSequence) as EventKind;
  }
  get sequence(): number {
    return this.#index.sequenceOf(this.globalSequence);
  }
  get timestampMs(): number {
    return this.#index.timestampOf(this.globalSequence);
  }
  /** A plain-object copy. */
  toJSON(): IndexEntry {
    return {
      eventId: this.eventId,
      entity: this.entity,
      scope: this.scope,
      kind: this.kind,
      sequence: this.sequence,
      globalSequence: this.globalSequence,
      timestampMs: this.timestampMs,
    };
  }
  /** How Deno's console shows it (the runtime passes its `inspect`). */
  [Symbol.for("Deno.customInspect")](inspect: (value: unknown) => string): string {
    return `IndexEntry ${inspect(this.toJSON())}`;
  }
}
