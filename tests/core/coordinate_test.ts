/**
 * `Coordinate` rejects empty, long, control-character, non-string and
 * ill-formed parts with `InvalidCoordinateError`.
 */

import assert from "node:assert/strict";
import { Coordinate, InvalidCoordinateError } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("Coordinate rejects empty, long, control-character, non-string and ill-formed parts", () => {
  const bad: [unknown, unknown][] = [
    ["", "s"],
    ["e", ""],
    ["x".repeat(1025), "s"],
    ["e", "日".repeat(342)], // 1026 UTF-8 bytes
    ["a\u0000b", "s"],
    ["a\nb", "s"],
    ["e", "s\u007f"],
    ["e", "s\u0085"], // C1 control
    [42, "s"],
    ["e", null],
    [undefined, undefined],
    [{}, "s"],
    ["a\ud800", "s"], // lone surrogate: would be stored as U+FFFD and merge with other entities
    ["e", "\udc00s"],
  ];
  for (const [entity, scope] of bad) {
    assert.throws(
      () => new Coordinate(entity as Any, scope as Any),
      InvalidCoordinateError,
      `${JSON.stringify(entity)} / ${JSON.stringify(scope)}`,
    );
  }
  assert.equal(new Coordinate("x".repeat(1024), "日".repeat(341)).entity.length, 1024);
  assert.equal(new Coordinate("emoji 😀", "s").entity, "emoji 😀");
});
