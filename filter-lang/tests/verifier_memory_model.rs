//! Soundness of the verifier's memory model against concrete addresses:
//! whenever `mem::bounds` accepts an access through an abstract pointer, the
//! access is inside its object for every concrete pointer the abstract one
//! describes, and (for the packet) for every packet length consistent with
//! the pointer's proven range.
//!
//! This is the class of the audit's first hole (`docs/VERIFIER-AUDIT.md`): a
//! packet pointer with a variable part, a negative constant part and no
//! proven range was accepted for accesses below its variable part.

use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::mem::bounds;
use filter_lang::bpf::verifier::scalar::Scalar;
use filter_lang::bpf::verifier::state::{Ptr, PtrKind, STACK_SIZE};
use proptest::prelude::*;

/// A variable part (a signed range, sometimes narrowed by known bits) and a
/// member of it.
fn var() -> impl Strategy<Value = (Scalar, i64)> {
    (-40i64..80, 0i64..40, 0i64..40, any::<bool>()).prop_map(|(lo, w, pick, aligned)| {
        let hi = lo + w;
        let v = lo + pick.min(w);
        if lo == hi {
            return (Scalar::konst(lo as u64), lo);
        }
        let mut s = Scalar::srange(lo, hi);
        if aligned && lo >= 0 {
            // Multiples of 4 only (known low bits), like a shifted length.
            s = Scalar::alu(
                filter_lang::bpf::op::Width::W64,
                filter_lang::bpf::op::AluOp::And,
                &s,
                &Scalar::konst(!3),
            );
            return (s, v & !3);
        }
        (s, v)
    })
}

fn spec() -> ProgramSpec {
    let mut spec = ProgramSpec::new(ProgramType::Packet);
    spec.regions = vec![RegionDecl {
        size: 48,
        writable: true,
    }];
    spec
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn packet_accesses_accepted_are_inside_the_packet(
        (var, v) in var(),
        fixed in -60i64..60,
        range in prop_oneof![Just(None), (-40i64..120).prop_map(Some)],
        off in -60i64..60,
        len in prop_oneof![Just(1i64), Just(2), Just(4), Just(8)],
        slack in 0i64..3,
        unproven_len in 0i64..200,
    ) {
        prop_assert!(var.contains(v as u64));
        let p = Ptr { kind: PtrKind::Packet, fixed, var, id: 1, range };
        // Any packet length consistent with what the pointer proves.
        let pkt_len = match range {
            // `v + r <= length` is all the range promises.
            Some(r) => (v + r).max(0) + slack,
            None => unproven_len,
        };
        if bounds(&spec(), &p, off, len).is_ok() {
            let start = v + fixed + off;
            prop_assert!(
                start >= 0 && start + len <= pkt_len,
                "accepted [{start}, {}) of a {pkt_len}-byte packet through {p} at {off:+}",
                start + len
            );
        }
    }

    #[test]
    fn stack_and_region_accesses_accepted_are_inside(
        (var, v) in var(),
        fixed in -560i64..80,
        off in -60i64..60,
        len in prop_oneof![Just(1i64), Just(2), Just(4), Just(8)],
        which in 0u8..2,
    ) {
        let (kind, lo_ok, hi_ok) = match which {
            0 => (PtrKind::Stack(0), -STACK_SIZE, 0),
            _ => (PtrKind::Region(0), 0, 48),
        };
        let p = Ptr { kind, fixed, var, id: 0, range: None };
        if bounds(&spec(), &p, off, len).is_ok() {
            let start = v + fixed + off;
            prop_assert!(
                start >= lo_ok && start + len <= hi_ok,
                "accepted [{start}, {}) through {p} at {off:+}",
                start + len
            );
        }
    }
}
