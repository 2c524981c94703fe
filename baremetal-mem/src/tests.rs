//! Host tests: every function against a plain Rust reference, over lengths
//! around the quadword boundaries, every source and destination alignment
//! within a quadword, and (for `memmove`) overlaps in both directions.

extern crate std;

use std::vec::Vec;

use super::{bcmp, memcmp, memcpy, memmove, memset};

/// Lengths: empty, tails only, one quadword, quadwords plus every tail.
const LENGTHS: [usize; 14] = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 63, 100];

/// A buffer of distinct, non-zero, non-0xFF bytes (a byte written to the
/// wrong place shows).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed) % 250 + 1)
        .collect()
}

#[test]
fn memcpy_copies_exactly_its_range_at_every_alignment() {
    for n in LENGTHS {
        for s in 0..8 {
            for d in 0..8 {
                let src = pattern(n + 16, 3);
                let mut dst = std::vec![0xFFu8; n + 16];
                let mut want = dst.clone();
                want[d..d + n].copy_from_slice(&src[s..s + n]);
                // SAFETY: `n` bytes from offset `s` of `src` and `d` of
                // `dst` lie inside the two distinct vectors.
                let ret = unsafe { memcpy(dst.as_mut_ptr().add(d), src.as_ptr().add(s), n) };
                assert_eq!(ret, dst.as_mut_ptr().wrapping_add(d), "n={n} s={s} d={d}");
                assert_eq!(dst, want, "n={n} s={s} d={d}");
            }
        }
    }
}

#[test]
fn memmove_handles_overlap_in_both_directions() {
    for n in LENGTHS {
        for s in 0..12 {
            for d in 0..12 {
                let mut buf = pattern(n + 12, 5);
                let mut want = buf.clone();
                want.copy_within(s..s + n, d);
                let base = buf.as_mut_ptr();
                // SAFETY: both ranges, `n` bytes from offsets below 12, lie
                // inside `buf` (length n + 12).
                let ret = unsafe { memmove(base.add(d), base.add(s), n) };
                assert_eq!(ret, base.wrapping_add(d), "n={n} s={s} d={d}");
                assert_eq!(buf, want, "n={n} s={s} d={d}");
            }
        }
    }
}

#[test]
fn memmove_leaves_the_direction_flag_clear() {
    let mut buf = pattern(32, 1);
    let base = buf.as_mut_ptr();
    // SAFETY: both ranges lie inside `buf`; the overlap forces the backward
    // path, which sets DF.
    unsafe { memmove(base.add(1), base, 16) };
    let flags: u64;
    // SAFETY: pushes RFLAGS and pops it into a register; the stack is
    // balanced.
    unsafe { core::arch::asm!("pushfq", "pop {}", out(reg) flags) };
    assert_eq!(flags & (1 << 10), 0, "DF left set");
}

#[test]
fn memset_fills_exactly_its_range_with_the_low_byte() {
    for n in LENGTHS {
        for d in 0..8 {
            for c in [0, 0x5C, 0xFF, 0x1AB, -1] {
                let mut buf = pattern(n + 16, 9);
                let mut want = buf.clone();
                want[d..d + n].fill(c as u8);
                // SAFETY: `n` bytes from offset `d` lie inside `buf`.
                let ret = unsafe { memset(buf.as_mut_ptr().add(d), c, n) };
                assert_eq!(ret, buf.as_mut_ptr().wrapping_add(d), "n={n} d={d} c={c}");
                assert_eq!(buf, want, "n={n} d={d} c={c}");
            }
        }
    }
}

#[test]
fn memcmp_orders_as_unsigned_bytes_and_stops_at_n() {
    for n in LENGTHS.into_iter().filter(|&n| n > 0) {
        let a = pattern(n + 1, 11);
        // Equal, also when the bytes after `n` differ.
        let mut b = a.clone();
        b[n] ^= 0x80;
        // SAFETY: both vectors hold n + 1 bytes.
        let (eq, beq) = unsafe {
            (
                memcmp(a.as_ptr(), b.as_ptr(), n),
                bcmp(a.as_ptr(), b.as_ptr(), n),
            )
        };
        assert_eq!((eq, beq), (0, 0), "n={n}");
        for at in [0, n / 2, n - 1] {
            // 0x01 against 0xF0: `lo` sorts first as unsigned bytes (as i8 it would not).
            let (mut lo, mut hi) = (a.clone(), a.clone());
            lo[at] = 0x01;
            hi[at] = 0xF0;
            // SAFETY: both vectors hold n + 1 bytes.
            let (lt, gt, ne) = unsafe {
                (
                    memcmp(lo.as_ptr(), hi.as_ptr(), n),
                    memcmp(hi.as_ptr(), lo.as_ptr(), n),
                    bcmp(lo.as_ptr(), hi.as_ptr(), n),
                )
            };
            assert!(lt < 0 && gt > 0 && ne != 0, "n={n} at={at}: {lt} {gt} {ne}");
        }
    }
    // Nothing is read when n is 0.
    // SAFETY: zero-length compares read no memory, even through dangling
    // pointers.
    let zero = unsafe { memcmp(core::ptr::dangling(), core::ptr::dangling(), 0) };
    assert_eq!(zero, 0);
}
