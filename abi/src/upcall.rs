//! Upcalls: how the kernel enters an environment outside the normal flow of
//! its code (exceptions, protected control transfers, the end of a time
//! slice, revocation requests, repossession notices).
//!
//! The environment declares one entry point and an upcall stack
//! ([`crate::Sysno::UpcallRegister`]). To upcall, the kernel pushes an
//! [`UpcallFrame`] on that stack (at its top, or below the interrupted `rsp`
//! minus the 128-byte red zone when the environment already runs on it:
//! upcalls nest), saves in it the registers it is about to change, and
//! starts the entry point with:
//!
//! - `rsp` = address of the frame (16-byte aligned);
//! - `rax` = the [`UpcallKind`];
//! - `rdi, rsi, rdx, r10, r8, r9` = `args[0..6]`;
//! - `rflags` = the interrupted flags without TF, DF and AC;
//! - every other register (and the x87/SSE state) as it was.
//!
//! The environment resumes the interrupted code by itself, without the
//! kernel: it restores the saved registers and returns to `saved_rip` (the
//! library OS's trampoline does it in user mode; see `libos-core`).

use crate::caps::UpcallKinds;

/// Kinds of upcall (the value of `rax` at the entry point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum UpcallKind {
    /// A processor exception in the environment: `args = [vector,
    /// error_code, fault_address (CR2 for #PF, else 0)]`.
    Exception = 1,
    /// A protected control transfer: `args = [sender, w0, w1, w2, w3, w4,
    /// mode]`, `mode` = [`PCT_MODE_CALL`] when the sender waits for a reply
    /// (answer with [`crate::Sysno::PctReply`]) or [`PCT_MODE_SEND`].
    Pct = 2,
    /// The time slice ended: save state and yield before `args[0]` (clock
    /// ns), or be preempted by force and struck (see [`crate::private`]).
    SliceEnd = 3,
    /// The kernel asks for `args[0]` frames back by clock time `args[1]`;
    /// `args[2]` = 1 if this is an emergency (the guarantee does not hold).
    Revocation = 4,
    /// Resources were repossessed: `args[0]` = entries now in the
    /// repossession vector, `args[1]` = new ones since the last notice.
    Repossession = 5,
}

/// [`UpcallKind::Pct`] `args[6]`: the sender waits for a reply.
pub const PCT_MODE_CALL: u64 = 1;
/// [`UpcallKind::Pct`] `args[6]`: one-way transfer.
pub const PCT_MODE_SEND: u64 = 0;

/// Size of the red zone the kernel skips below an interrupted `rsp`.
pub const RED_ZONE: u64 = 128;

impl UpcallKind {
    pub const ALL: [UpcallKind; 5] = [
        UpcallKind::Exception,
        UpcallKind::Pct,
        UpcallKind::SliceEnd,
        UpcallKind::Revocation,
        UpcallKind::Repossession,
    ];

    pub fn from_u64(v: u64) -> Option<UpcallKind> {
        Self::ALL.into_iter().find(|k| *k as u64 == v)
    }

    /// The registration bit of this kind.
    pub fn bit(self) -> UpcallKinds {
        UpcallKinds::from_bits_retain(1 << self as u64)
    }
}

/// Exception vectors delivered to environments (all others stop the
/// machine or never arise in ring 3).
pub const DELIVERED_VECTORS: [u8; 13] = [0, 1, 3, 4, 5, 6, 7, 12, 13, 14, 16, 17, 19];

/// Page-fault error code bits (`args[1]` of a #PF).
pub mod page_fault {
    /// The page was present (a protection fault); clear: not present.
    pub const PRESENT: u64 = 1 << 0;
    /// The access was a write.
    pub const WRITE: u64 = 1 << 1;
    /// The access came from user mode (always set for environments).
    pub const USER: u64 = 1 << 2;
    /// The access was an instruction fetch.
    pub const FETCH: u64 = 1 << 4;
}

/// The frame pushed on the upcall stack (144 bytes, 16-byte aligned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct UpcallFrame {
    /// The [`UpcallKind`] (the library OS may reuse the word while resuming).
    pub kind: u64,
    /// Kind-specific arguments (see [`UpcallKind`]).
    pub args: [u64; 7],
    /// Interrupted instruction pointer.
    pub rip: u64,
    /// Interrupted stack pointer.
    pub rsp: u64,
    /// Interrupted flags.
    pub rflags: u64,
    /// Interrupted values of the registers the kernel loaded.
    pub rax: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub r10: u64,
    pub r8: u64,
    pub r9: u64,
}

/// Words in an [`UpcallFrame`].
pub const FRAME_WORDS: usize = 18;

/// Byte offsets of the fields the assembly trampolines use.
pub mod offsets {
    pub const KIND: usize = 0;
    pub const ARGS: usize = 8;
    pub const RIP: usize = 64;
    pub const RSP: usize = 72;
    pub const RFLAGS: usize = 80;
    pub const RAX: usize = 88;
    pub const RDI: usize = 96;
    pub const RSI: usize = 104;
    pub const RDX: usize = 112;
    pub const R10: usize = 120;
    pub const R8: usize = 128;
    pub const R9: usize = 136;
}

impl UpcallFrame {
    /// The frame as the words the kernel writes, in memory order.
    pub fn to_words(&self) -> [u64; FRAME_WORDS] {
        let a = self.args;
        [
            self.kind,
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
            a[6],
            self.rip,
            self.rsp,
            self.rflags,
            self.rax,
            self.rdi,
            self.rsi,
            self.rdx,
            self.r10,
            self.r8,
            self.r9,
        ]
    }

    /// The inverse of [`UpcallFrame::to_words`].
    pub fn from_words(w: &[u64; FRAME_WORDS]) -> UpcallFrame {
        UpcallFrame {
            kind: w[0],
            args: [w[1], w[2], w[3], w[4], w[5], w[6], w[7]],
            rip: w[8],
            rsp: w[9],
            rflags: w[10],
            rax: w[11],
            rdi: w[12],
            rsi: w[13],
            rdx: w[14],
            r10: w[15],
            r8: w[16],
            r9: w[17],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn frame_layout_matches_offsets_and_words() {
        assert_eq!(size_of::<UpcallFrame>(), FRAME_WORDS * 8);
        assert_eq!(size_of::<UpcallFrame>() % 16, 0);
        assert_eq!(offset_of!(UpcallFrame, kind), offsets::KIND);
        assert_eq!(offset_of!(UpcallFrame, args), offsets::ARGS);
        assert_eq!(offset_of!(UpcallFrame, rip), offsets::RIP);
        assert_eq!(offset_of!(UpcallFrame, rsp), offsets::RSP);
        assert_eq!(offset_of!(UpcallFrame, rflags), offsets::RFLAGS);
        assert_eq!(offset_of!(UpcallFrame, rax), offsets::RAX);
        assert_eq!(offset_of!(UpcallFrame, rdi), offsets::RDI);
        assert_eq!(offset_of!(UpcallFrame, rsi), offsets::RSI);
        assert_eq!(offset_of!(UpcallFrame, rdx), offsets::RDX);
        assert_eq!(offset_of!(UpcallFrame, r10), offsets::R10);
        assert_eq!(offset_of!(UpcallFrame, r8), offsets::R8);
        assert_eq!(offset_of!(UpcallFrame, r9), offsets::R9);
        let mut words = [0u64; FRAME_WORDS];
        for (i, w) in words.iter_mut().enumerate() {
            *w = i as u64 * 3 + 1;
        }
        let f = UpcallFrame::from_words(&words);
        assert_eq!(f.to_words(), words);
        assert_eq!(f.rip, words[offsets::RIP / 8]);
        assert_eq!(f.r9, words[offsets::R9 / 8]);
    }

    #[test]
    fn kinds_decode() {
        for k in UpcallKind::ALL {
            assert_eq!(UpcallKind::from_u64(k as u64), Some(k));
        }
        assert_eq!(UpcallKind::from_u64(0), None);
        assert_eq!(UpcallKind::from_u64(6), None);
    }
}
