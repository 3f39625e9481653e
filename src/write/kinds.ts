/**
 * Appending a typed kind ({@linkcode TypedKind}): the checks against what
 * the store has registered (`StoreConfig.kinds`) and recorded
 * (`kinds.dat`), and recording its name before the first event of it is
 * written.
 *
 * @module
 */

import { InvalidArgumentError, KindConflictError } from "../core/errors.ts";
import type { TypedKind } from "../core/kind.ts";
import { kindHex } from "../core/kind_registry.ts";
import type { StoreKinds } from "../engine/kind_names.ts";

export type { StoreKinds };

function conflict(code: number, recorded: string, attempted: string, message: string): never {
  throw new KindConflictError(code, recorded, attempted, `${message}; nothing was written`);
}

/**
 * Check that `kind` may be appended to this store; returns its name when the
 * store has not recorded it yet (to be recorded before the event is
 * written), else `null`.
 */
export function admitKind(
  kinds: StoreKinds,
  kind: TypedKind<unknown>,
  where: string,
): string | null {
  const code = kind.code;
  const hex = kindHex(code);
  const registered = kinds.registry.get(code);
  if (registered !== undefined && registered !== kind) {
    if (registered.name !== kind.name || registered.version !== kind.version) {
      conflict(
        code,
        `${registered.name} v${registered.version}`,
        `${kind.name} v${kind.version}`,
        `${where}: kind ${hex} is registered in StoreConfig.kinds as "${registered.name}" v${registered.version}, not "${kind.name}" v${kind.version}`,
      );
    }
  }
  if (registered === undefined && kind.version > 1) {
    throw new InvalidArgumentError(
      `${where}: ${kind} has schema version ${kind.version}: list it in StoreConfig.kinds, so ` +
        `that this store upcasts its older events when they are read; nothing was written`,
    );
  }
  return checkName(kinds, code, kind.name, where);
}

function checkName(kinds: StoreKinds, code: number, name: string, where: string): string | null {
  const recorded = kinds.names.get(code);
  if (recorded === name) return null;
  const hex = kindHex(code);
  if (recorded !== undefined) {
    conflict(
      code,
      recorded,
      name,
      `${where}: kind ${hex} is "${recorded}" in this store, not "${name}" (a kind's name is fixed once used)`,
    );
  }
  const other = kinds.names.codeOf(name);
  if (other !== undefined) {
    conflict(
      code,
      kindHex(other),
      hex,
      `${where}: the name "${name}" is kind ${kindHex(other)} in this store, not ${hex}`,
    );
  }
  return name;
}

/**
 * Record the new names of the items about to be written (`names[i]` is
 * `kinds[i]`'s, or `null`), fsynced, before their frames are: two items
 * that give one number two names (or one name two numbers) throw
 * {@linkcode KindConflictError} and nothing is recorded.
 */
export function recordKindNames(
  kinds: StoreKinds,
  codes: ArrayLike<number>,
  names: ArrayLike<string | null>,
  where: string,
): void {
  let pending: Map<number, string> | undefined;
  const codeOfName = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === null) continue;
    pending ??= new Map();
    const code = codes[i];
    const earlier = pending.get(code);
    if (earlier !== undefined && earlier !== name) {
      conflict(
        code,
        earlier,
        name,
        `${where}: two items name kind ${kindHex(code)}: "${earlier}" and "${name}"`,
      );
    }
    const c = codeOfName.get(name);
    if (c !== undefined && c !== code) {
      conflict(
        code,
        kindHex(c),
        kindHex(code),
        `${where}: two items use the name "${name}" for kinds ${kindHex(c)} and ${kindHex(code)}`,
      );
    }
    pending.set(code, name);
    codeOfName.set(name, code);
  }
  if (pending === undefined) return;
  // Checked again: user code (a payload getter) may have appended since the items were prepared.
  for (const [code, name] of pending) checkName(kinds, code, name, where);
  kinds.names.remember(pending);
}
