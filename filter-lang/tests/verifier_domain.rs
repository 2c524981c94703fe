//! Soundness of the verifier's scalar domain against the concrete semantics:
//! for random abstract values and random members of them, every ALU result
//! is a member of the abstract result, and branch refinement never drops a
//! pair of values for which the condition holds (or fails).

use filter_lang::bpf::alu;
use filter_lang::bpf::op::{AluOp, EndKind, JmpCond, Width};
use filter_lang::bpf::verifier::scalar::{Scalar, refine, refine32};
use filter_lang::bpf::verifier::tnum::Tnum;
use proptest::prelude::*;

/// An abstract value and a member of it.
fn member() -> impl Strategy<Value = (Scalar, u64)> {
    let interesting = prop_oneof![
        any::<u64>(),
        0u64..300,
        (0u64..300).prop_map(|v| v.wrapping_neg()),
        Just(i64::MIN as u64),
        Just(i64::MAX as u64),
        Just(u32::MAX as u64),
        Just(0x8000_0000),
    ];
    (interesting, any::<u64>(), any::<u64>(), 0u8..5).prop_map(|(x, r1, r2, kind)| {
        let s = match kind {
            0 => Scalar::konst(x),
            1 => {
                // An unsigned range around x.
                let lo = x.saturating_sub(r1 % 1000);
                let hi = x.saturating_add(r2 % 1000);
                Scalar::urange(lo, hi)
            }
            2 => {
                let xs = x as i64;
                Scalar::srange(
                    xs.saturating_sub((r1 % 5000) as i64),
                    xs.saturating_add((r2 % 5000) as i64),
                )
            }
            3 => {
                // Known bits: x with some bits unknown.
                let mask = r1 & r2;
                Scalar::from_known_bits(Tnum {
                    value: x & !mask,
                    mask,
                })
            }
            _ => Scalar::UNKNOWN,
        };
        assert!(s.contains(x), "{s:?} should contain {x:#x}");
        (s, x)
    })
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::SDiv),
        Just(AluOp::Or),
        Just(AluOp::And),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Mod),
        Just(AluOp::SMod),
        Just(AluOp::Xor),
        Just(AluOp::Mov),
        Just(AluOp::Arsh),
        Just(AluOp::MovSx(8)),
        Just(AluOp::MovSx(16)),
        Just(AluOp::MovSx(32)),
    ]
}

fn cond() -> impl Strategy<Value = JmpCond> {
    prop_oneof![
        Just(JmpCond::Eq),
        Just(JmpCond::Ne),
        Just(JmpCond::Gt),
        Just(JmpCond::Ge),
        Just(JmpCond::Lt),
        Just(JmpCond::Le),
        Just(JmpCond::Set),
        Just(JmpCond::Sgt),
        Just(JmpCond::Sge),
        Just(JmpCond::Slt),
        Just(JmpCond::Sle),
    ]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn alu_results_are_members((a, x) in member(), (b, y) in member(), op in alu_op(), w in width()) {
        // MovSx(32) exists only as a 64-bit op.
        prop_assume!(!(w == Width::W32 && op == AluOp::MovSx(32)));
        let r = Scalar::alu(w, op, &a, &b);
        let v = alu::alu(w, op, x, y);
        prop_assert!(r.contains(v), "{op:?} {w:?}: {a:?} ({x:#x}) op {b:?} ({y:#x}) = {v:#x} not in {r:?}");
    }

    #[test]
    fn neg_and_byte_swaps_are_members((a, x) in member(), w in width(), bits in prop_oneof![Just(16u8), Just(32), Just(64)], k in 0u8..3) {
        let r = Scalar::neg(w, &a);
        prop_assert!(r.contains(alu::neg(w, x)));
        let kind = [EndKind::ToLe, EndKind::ToBe, EndKind::Swap][k as usize];
        let r = Scalar::end(kind, bits, &a);
        prop_assert!(r.contains(alu::end(kind, bits, x)), "{kind:?}{bits} {a:?} {x:#x} -> {r:?}");
    }

    #[test]
    fn refinement_keeps_every_pair((a, x) in member(), (b, y) in member(), c in cond(), w in width()) {
        let holds = alu::cond(w, c, x, y);
        let r = match w {
            Width::W64 => refine(c, holds, &a, &b),
            Width::W32 => refine32(c, holds, &a, &b),
        };
        match r {
            Some((na, nb)) => prop_assert!(
                na.contains(x) && nb.contains(y),
                "{c:?} {w:?} holds={holds}: {a:?} ({x:#x}) vs {b:?} ({y:#x}) narrowed to {na:?}, {nb:?}"
            ),
            None => prop_assert!(false, "{c:?} {w:?} holds={holds} judged impossible for {x:#x}, {y:#x} in {a:?}, {b:?}"),
        }
    }
}
