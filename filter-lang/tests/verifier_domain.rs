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

/// One step of a random computation over two abstract registers.
#[derive(Clone, Debug)]
enum Step {
    /// `a = a op b` (or `a = a op k` when the constant is given).
    Alu(Width, AluOp, Option<u64>),
    Neg(Width),
    End(EndKind, u8),
    /// Branch on `a cond b` (or `a cond k`): both sides narrowed by
    /// whichever way the concrete values go.
    Branch(Width, JmpCond, Option<u64>),
    /// Swap the two registers.
    Swap,
}

fn step() -> impl Strategy<Value = Step> {
    let konst = prop_oneof![
        Just(None),
        (0u64..70).prop_map(Some),
        any::<u64>().prop_map(Some),
        (0u64..300).prop_map(|v| Some(v.wrapping_neg())),
        prop_oneof![
            Just(0xffu64),
            Just(0xffff),
            Just(u32::MAX as u64),
            Just(1 << 31)
        ]
        .prop_map(Some),
    ];
    prop_oneof![
        4 => (width(), alu_op(), konst.clone())
            .prop_filter("movsx32 is 64-bit only", |(w, op, _)| !(*w == Width::W32 && *op == AluOp::MovSx(32)))
            .prop_map(|(w, op, k)| Step::Alu(w, op, k)),
        1 => width().prop_map(Step::Neg),
        1 => (0u8..3, prop_oneof![Just(16u8), Just(32), Just(64)])
            .prop_map(|(k, bits)| Step::End([EndKind::ToLe, EndKind::ToBe, EndKind::Swap][k as usize], bits)),
        4 => (width(), cond(), konst).prop_map(|(w, c, k)| Step::Branch(w, c, k)),
        1 => Just(Step::Swap),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    /// Chains of operations and branch refinements: every abstract value a
    /// transfer function produces (not only the ones the generator builds
    /// directly) keeps containing the concrete value it stands for.
    #[test]
    fn chains_of_operations_and_branches_keep_members(
        (a, x) in member(),
        (b, y) in member(),
        steps in prop::collection::vec(step(), 1..12),
    ) {
        let (mut a, mut x, mut b, mut y) = (a, x, b, y);
        for (i, s) in steps.iter().enumerate() {
            match *s {
                Step::Alu(w, op, k) => {
                    let (bb, yy) = match k {
                        Some(k) => (Scalar::konst(k), k),
                        None => (b, y),
                    };
                    a = Scalar::alu(w, op, &a, &bb);
                    x = alu::alu(w, op, x, yy);
                }
                Step::Neg(w) => {
                    a = Scalar::neg(w, &a);
                    x = alu::neg(w, x);
                }
                Step::End(kind, bits) => {
                    a = Scalar::end(kind, bits, &a);
                    x = alu::end(kind, bits, x);
                }
                Step::Branch(w, c, k) => {
                    let (bb, yy) = match k {
                        Some(k) => (Scalar::konst(k), k),
                        None => (b, y),
                    };
                    let holds = alu::cond(w, c, x, yy);
                    let r = match w {
                        Width::W64 => refine(c, holds, &a, &bb),
                        Width::W32 => refine32(c, holds, &a, &bb),
                    };
                    let Some((na, nb)) = r else {
                        return Err(TestCaseError::fail(format!(
                            "step {i} {s:?}: judged impossible for {x:#x}, {yy:#x} in {a:?}, {bb:?}"
                        )));
                    };
                    a = na;
                    if k.is_none() {
                        b = nb;
                    }
                }
                Step::Swap => {
                    core::mem::swap(&mut a, &mut b);
                    core::mem::swap(&mut x, &mut y);
                }
            }
            prop_assert!(
                a.contains(x) && b.contains(y) && !a.is_empty() && !b.is_empty(),
                "step {i} {s:?}: {x:#x} in {a:?}? {y:#x} in {b:?}? (steps {steps:?})"
            );
        }
    }
}
