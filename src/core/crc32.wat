;; CRC-32 (zlib's: reflected IEEE polynomial, initial and final XOR 0xFFFFFFFF) of many byte
;; ranges in one call: the WebAssembly half of src/core/crc32_ranges.ts. Slicing-by-16 like
;; src/core/crc32.ts, whose tables the caller copies to offset 0 before the first call.
;;
;; Memory: [0, 16384) sixteen 256-entry i32 tables, table k at k * 1024; the caller places
;; the range list, the results and the bytes anywhere after that.
;;
;; Compile with `deno task build:wasm` (src/core/_crc32_wasm.ts holds the bytes; a test
;; checks they are this file's).
(module
  (memory (export "memory") 1)

  ;; CRC register `c` (already XORed with 0xFFFFFFFF) continued over bytes [p, end).
  (func $update (param $p i32) (param $end i32) (param $c i32) (result i32)
    (local $last i32)
    (local.set $last (i32.sub (local.get $end) (i32.const 16)))
    ;; 16 bytes per step while at least 16 are left (signed: $last may be below 0).
    (block $done16
      (loop $step16
        (br_if $done16 (i32.gt_s (local.get $p) (local.get $last)))
        (local.set $c (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $c
          (i32.xor
            (i32.xor
              (i32.xor
                (i32.xor
                  (i32.load offset=15360
                    (i32.shl (i32.and (local.get $c) (i32.const 255)) (i32.const 2)))
                  (i32.load offset=14336
                    (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 8)) (i32.const 255))
                      (i32.const 2))))
                (i32.xor
                  (i32.load offset=13312
                    (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 16)) (i32.const 255))
                      (i32.const 2)))
                  (i32.load offset=12288
                    (i32.shl (i32.shr_u (local.get $c) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor
                  (i32.load offset=11264 (i32.shl (i32.load8_u offset=4 (local.get $p)) (i32.const 2)))
                  (i32.load offset=10240 (i32.shl (i32.load8_u offset=5 (local.get $p)) (i32.const 2))))
                (i32.xor
                  (i32.load offset=9216 (i32.shl (i32.load8_u offset=6 (local.get $p)) (i32.const 2)))
                  (i32.load offset=8192 (i32.shl (i32.load8_u offset=7 (local.get $p)) (i32.const 2))))))
            (i32.xor
              (i32.xor
                (i32.xor
                  (i32.load offset=7168 (i32.shl (i32.load8_u offset=8 (local.get $p)) (i32.const 2)))
                  (i32.load offset=6144 (i32.shl (i32.load8_u offset=9 (local.get $p)) (i32.const 2))))
                (i32.xor
                  (i32.load offset=5120 (i32.shl (i32.load8_u offset=10 (local.get $p)) (i32.const 2)))
                  (i32.load offset=4096 (i32.shl (i32.load8_u offset=11 (local.get $p)) (i32.const 2)))))
              (i32.xor
                (i32.xor
                  (i32.load offset=3072 (i32.shl (i32.load8_u offset=12 (local.get $p)) (i32.const 2)))
                  (i32.load offset=2048 (i32.shl (i32.load8_u offset=13 (local.get $p)) (i32.const 2))))
                (i32.xor
                  (i32.load offset=1024 (i32.shl (i32.load8_u offset=14 (local.get $p)) (i32.const 2)))
                  (i32.load (i32.shl (i32.load8_u offset=15 (local.get $p)) (i32.const 2))))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $step16)))
    ;; 8 more bytes when at least 8 are left.
    (if (i32.le_s (local.get $p) (i32.sub (local.get $end) (i32.const 8)))
      (then
        (local.set $c (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $c
          (i32.xor
            (i32.xor
              (i32.xor
                (i32.load offset=7168
                  (i32.shl (i32.and (local.get $c) (i32.const 255)) (i32.const 2)))
                (i32.load offset=6144
                  (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 8)) (i32.const 255))
                    (i32.const 2))))
              (i32.xor
                (i32.load offset=5120
                  (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 16)) (i32.const 255))
                    (i32.const 2)))
                (i32.load offset=4096
                  (i32.shl (i32.shr_u (local.get $c) (i32.const 24)) (i32.const 2)))))
            (i32.xor
              (i32.xor
                (i32.load offset=3072 (i32.shl (i32.load8_u offset=4 (local.get $p)) (i32.const 2)))
                (i32.load offset=2048 (i32.shl (i32.load8_u offset=5 (local.get $p)) (i32.const 2))))
              (i32.xor
                (i32.load offset=1024 (i32.shl (i32.load8_u offset=6 (local.get $p)) (i32.const 2)))
                (i32.load (i32.shl (i32.load8_u offset=7 (local.get $p)) (i32.const 2)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))))
    ;; The rest byte by byte.
    (block $done1
      (loop $step1
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c
          (i32.xor
            (i32.load
              (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 255))
                (i32.const 2)))
            (i32.shr_u (local.get $c) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $step1)))
    (local.get $c))

  ;; For k in [0, n): out[k] = CRC-32 of bytes [base + list[2k], base + list[2k+1]).
  ;; `list` and `out` are byte addresses of i32 arrays; the caller checked every range.
  (func (export "crcs") (param $list i32) (param $n i32) (param $out i32) (param $base i32)
    (local $k i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (i32.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (i32.xor
            (call $update
              (i32.add (local.get $base) (i32.load (local.get $list)))
              (i32.add (local.get $base) (i32.load offset=4 (local.get $list)))
              (i32.const -1))
            (i32.const -1)))
        (local.set $list (i32.add (local.get $list) (i32.const 8)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each))))
)
