//! Pushing upcall frames (the protocol is documented in
//! `exo_abi::upcall`): the kernel saves the registers it changes into a
//! frame on the environment's upcall stack and redirects it to its entry
//! point. The environment resumes on its own.

use exo_abi::layout::USER_MAP_END;
use exo_abi::upcall::{FRAME_WORDS, RED_ZONE};
use exo_abi::{Error, UpcallFrame, UpcallKind, UpcallKinds};

use crate::arch::TrapFrame;
use crate::arch::user_space::{UserFault, UserSpace};

/// RFLAGS bits cleared for the handler: TF, DF, AC.
const HANDLER_CLEARS: u64 = (1 << 8) | (1 << 10) | (1 << 18);

/// An environment's upcall declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpcallConfig {
    pub entry: u64,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub kinds: UpcallKinds,
}

impl UpcallConfig {
    /// Checks the arguments of `UpcallRegister`.
    pub fn new(
        entry: u64,
        stack_lo: u64,
        stack_hi: u64,
        kinds: u64,
    ) -> Result<UpcallConfig, Error> {
        let kinds = UpcallKinds::from_bits(kinds).ok_or(Error::InvalidArgument)?;
        if entry >= USER_MAP_END || stack_hi > USER_MAP_END {
            return Err(Error::ReservedAddress);
        }
        if !stack_lo.is_multiple_of(4096) || !stack_hi.is_multiple_of(4096) {
            return Err(Error::NotAligned);
        }
        if stack_lo == 0 || stack_hi <= stack_lo {
            return Err(Error::InvalidArgument);
        }
        Ok(UpcallConfig {
            entry,
            stack_lo,
            stack_hi,
            kinds,
        })
    }

    pub fn accepts(&self, kind: UpcallKind) -> bool {
        self.kinds.contains(kind.bit())
    }
}

/// Why an upcall could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpcallError {
    /// The environment declared no entry for this kind.
    NotAccepted(UpcallKind),
    /// Nested upcalls ran off the bottom of the upcall stack.
    StackOverflow,
    /// The frame's place on the upcall stack is not mapped writable.
    StackUnmapped(UserFault),
}

impl core::fmt::Display for UpcallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAccepted(k) => write!(f, "no entry point for {k:?} upcalls"),
            Self::StackOverflow => write!(f, "nested upcalls overflowed the upcall stack"),
            Self::StackUnmapped(e) => write!(f, "upcall stack unusable: {e}"),
        }
    }
}

/// Pushes an upcall of `kind` with `args` for the context in `regs` (a
/// saved context or a trap frame about to return to ring 3).
pub fn push(
    space: &UserSpace,
    cfg: Option<&UpcallConfig>,
    regs: &mut TrapFrame,
    kind: UpcallKind,
    args: [u64; 7],
) -> Result<(), UpcallError> {
    let cfg = cfg
        .filter(|c| c.accepts(kind))
        .ok_or(UpcallError::NotAccepted(kind))?;
    let size = (FRAME_WORDS * 8) as u64;
    let top = if (cfg.stack_lo..cfg.stack_hi).contains(&regs.rsp) {
        regs.rsp.saturating_sub(RED_ZONE)
    } else {
        cfg.stack_hi
    };
    let addr = top.saturating_sub(size) & !15;
    if addr < cfg.stack_lo {
        return Err(UpcallError::StackOverflow);
    }
    let frame = UpcallFrame {
        kind: kind as u64,
        args,
        rip: regs.rip,
        rsp: regs.rsp,
        rflags: regs.rflags,
        rax: regs.rax,
        rdi: regs.rdi,
        rsi: regs.rsi,
        rdx: regs.rdx,
        r10: regs.r10,
        r8: regs.r8,
        r9: regs.r9,
    };
    let mut bytes = [0u8; FRAME_WORDS * 8];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(frame.to_words()) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    space
        .write(addr, &bytes)
        .map_err(UpcallError::StackUnmapped)?;
    regs.rip = cfg.entry;
    regs.rsp = addr;
    regs.rflags &= !HANDLER_CLEARS;
    regs.rax = kind as u64;
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.r10 = args[3];
    regs.r8 = args[4];
    regs.r9 = args[5];
    Ok(())
}
