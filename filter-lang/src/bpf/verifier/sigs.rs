//! Helper signatures per program type: what each argument must be and what
//! r0 holds afterwards. The verifier checks every call against these; the
//! implementations are in [`crate::bpf::ash`] and
//! [`crate::bpf::helpers::ConformanceHelpers`].

use super::error::ArgKind;
use super::scalar::Scalar;
use crate::bpf::ash::{MAX_FRAME_LEN, err, id};
use crate::bpf::helpers::CONFORMANCE_UNWIND;
use crate::bpf::spec::{ProgramType, packet_ctx};

/// What r0 holds after the call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ret {
    /// A scalar in this set.
    Scalar(Scalar),
    /// A pointer to the start of the region named by argument 1.
    RegionPtr,
}

/// A helper's signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sig {
    pub args: &'static [ArgKind],
    pub ret: Ret,
    /// Largest `len` a [`ArgKind::Length`] argument may have (the verifier
    /// proves the buffer for every length up to the tracked maximum).
    pub max_len: Option<u64>,
    /// Smallest `len` allowed.
    pub min_len: u64,
}

use ArgKind::*;

const fn sig(args: &'static [ArgKind], ret: Ret) -> Sig {
    Sig {
        args,
        ret,
        max_len: None,
        min_len: 0,
    }
}

/// The signature of helper `id` for programs of type `ty`.
pub fn signature(ty: ProgramType, helper: i32) -> Option<Sig> {
    let any = Ret::Scalar(Scalar::UNKNOWN);
    match ty {
        ProgramType::Memory { .. } => match helper {
            CONFORMANCE_UNWIND => Some(sig(&[Scalar], any)),
            _ => None,
        },
        ProgramType::Packet => Some(match helper {
            id::KTIME_NS => sig(&[], any),
            id::COUNTER_ADD => sig(&[CounterIndex, Scalar], any),
            id::REGION_PTR => sig(&[RegionId], Ret::RegionPtr),
            id::COPY_TO_REGION => sig(
                &[WritableRegionId, Scalar, Scalar, Scalar],
                Ret::Scalar(self::Scalar::srange(
                    err::SEND_FAILED,
                    packet_ctx::MAX_PACKET_LEN as i64,
                )),
            ),
            id::COPY_TO_REGION_CSUM => sig(
                &[WritableRegionId, Scalar, Scalar, Scalar, Scalar],
                Ret::Scalar(self::Scalar::srange(err::SEND_FAILED, 0xffff)),
            ),
            id::SEND_FRAME => Sig {
                args: &[ReadableBuffer, Length],
                ret: Ret::Scalar(self::Scalar::srange(err::SEND_FAILED, 0)),
                max_len: Some(MAX_FRAME_LEN as u64),
                min_len: 1,
            },
            id::WAKE_OWNER => sig(&[], Ret::Scalar(self::Scalar::konst(0))),
            id::CHECKSUM => sig(
                &[ReadableBuffer, Length, Scalar],
                Ret::Scalar(self::Scalar::urange(0, 0xffff)),
            ),
            _ => return None,
        }),
    }
}

/// Registers a call of helper `id` reads (bit n = rn); all of r1-r5 for
/// unknown helpers.
pub fn arg_mask(ty: ProgramType, helper: i32) -> u16 {
    match signature(ty, helper) {
        Some(s) => ((1u16 << s.args.len()) - 1) << 1,
        None => 0b11_1110,
    }
}
