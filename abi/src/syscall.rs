//! System-call numbers and the register convention.
//!
//! Entry is the `syscall` instruction. `rax` holds the number, arguments go
//! in `rdi, rsi, rdx, r10, r8, r9` (`r10` replaces `rcx`, which `syscall`
//! overwrites). On return `rax` holds the status (0 or an [`Error`] code)
//! and `rdx` the result value. `rcx` and `r11` are clobbered by the
//! instruction itself; every other register, the x87/SSE state and the
//! stack are preserved, except where a call documents more results
//! ([`Sysno::PctCall`] returns the reply in `rdi, rsi, rdx, r10, r8, r9`).
//!
//! Numbers are grouped: 0-15 control, 16-31 memory, 32-47 CPU and
//! protected control transfer, [`NET_FIRST`]..=[`NET_LAST`] the network
//! group (dispatched to the kernel's network subsystem, issue 7).

use crate::error::Error;

/// System-call numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Sysno {
    /// Does nothing; measures the entry path. Returns 0.
    Null = 0,
    /// `(ptr, len)`: prints `len <= 4096` bytes of text on the kernel
    /// console, prefixed with the environment's name.
    DebugPrint = 1,
    /// `(target)`: gives up the rest of the slice; with a live `target`
    /// environment id (non-zero), donates it to that environment
    /// (directed yield).
    Yield = 2,
    /// `(deadline_ns)`: blocks until woken (an upcall, a protected control
    /// transfer, or a kernel wake-up) or until the absolute clock time
    /// `deadline_ns` (0: no deadline). Result 0; [`Error::TimedOut`] when
    /// the deadline passed first.
    Block = 3,
    /// `(code)`: ends the environment; every resource returns to the kernel.
    Exit = 4,
    /// `(entry, stack_lo, stack_hi, kinds)`: declares the upcall entry
    /// point, the upcall stack `[stack_lo, stack_hi)` (page aligned), and
    /// the [`crate::UpcallKinds`] it accepts. `kinds = 0` removes them.
    UpcallRegister = 5,
    /// `(on)`: 1 makes the next x87/SSE instruction raise #NM (delivered
    /// to the environment, which is then switched back to eager mode); 0
    /// turns that off.
    FpuLazy = 6,
    /// `(name_ptr, name_len, arg)`: starts the embedded program `name` as a
    /// child environment; `arg` reaches its entry in `rdx`. Result: its id.
    EnvSpawn = 8,
    /// `(env)`: kills a child environment; its resources return.
    EnvKill = 9,
    /// `(frame)`: allocates physical frame number `frame` (`phys / 4096`),
    /// or any free frame when `frame` is [`ANY`]. The frame is zeroed and
    /// owned by the caller with every capability. Result: the frame number.
    FrameAlloc = 16,
    /// `(frame)`: gives an owned frame back; every mapping of it (in any
    /// environment) and every grant on it disappear.
    FrameFree = 17,
    /// `(vaddr, frame, flags)`: maps the page at `vaddr` to `frame` with
    /// [`crate::MapFlags`] rights, after checking the caller's capabilities.
    Map = 18,
    /// `(vaddr)`: removes the mapping at `vaddr`. Result: the frame number.
    Unmap = 19,
    /// `(frame, env, caps)`: gives `env` the [`crate::FrameCaps`] `caps` on
    /// `frame`; the caller must hold `GRANT` and every bit it grants.
    Grant = 20,
    /// `(frame, env)`: the owner withdraws every capability `env` (or every
    /// environment, when `env` is 0) holds on `frame`; their mappings go.
    Revoke = 21,
    /// `(vaddr, pages)`: declares `[vaddr, vaddr + pages * 4096)` as the
    /// place where the kernel dumps the contents of frames it repossesses.
    DumpArea = 22,
    /// `(position)`: allocates time-slice slot `position` (or any, with
    /// [`ANY`]). Result: the slot position.
    SliceAlloc = 32,
    /// `(position)`: frees an owned slot (not the last guaranteed one).
    SliceFree = 33,
    /// `(target, w0, w1, w2, w3, w4)`: synchronous protected control
    /// transfer: the target's upcall entry runs at once with the message in
    /// registers, on the caller's slice, which stays donated until the
    /// target replies. Result: the reply (`rdi` = replier, `rsi, rdx, r10,
    /// r8, r9` = words).
    PctCall = 40,
    /// `(target, w0, w1, w2, w3, w4)`: asynchronous protected control
    /// transfer: the target runs for the rest of the current slice only;
    /// the caller resumes at its next slice.
    PctSend = 41,
    /// `(target, w0, w1, w2, w3, w4)`: answers the [`Sysno::PctCall`] that
    /// `target` is waiting on, resuming it at once on the donated slice.
    PctReply = 42,
}

/// Argument meaning "any" for [`Sysno::FrameAlloc`] and [`Sysno::SliceAlloc`].
pub const ANY: u64 = u64::MAX;

/// First number of the network group (issue 7: filters, handlers, rings).
pub const NET_FIRST: u64 = 64;
/// Last number of the network group.
pub const NET_LAST: u64 = 95;

/// Longest [`Sysno::DebugPrint`] buffer.
pub const DEBUG_PRINT_MAX: u64 = 4096;
/// Longest program name for [`Sysno::EnvSpawn`].
pub const PROGRAM_NAME_MAX: u64 = 64;

impl Sysno {
    /// Every call, in number order.
    pub const ALL: [Sysno; 21] = [
        Sysno::Null,
        Sysno::DebugPrint,
        Sysno::Yield,
        Sysno::Block,
        Sysno::Exit,
        Sysno::UpcallRegister,
        Sysno::FpuLazy,
        Sysno::EnvSpawn,
        Sysno::EnvKill,
        Sysno::FrameAlloc,
        Sysno::FrameFree,
        Sysno::Map,
        Sysno::Unmap,
        Sysno::Grant,
        Sysno::Revoke,
        Sysno::DumpArea,
        Sysno::SliceAlloc,
        Sysno::SliceFree,
        Sysno::PctCall,
        Sysno::PctSend,
        Sysno::PctReply,
    ];

    /// The call numbered `nr` (`None` for unknown numbers and for the
    /// network group, which [`is_net`] recognizes).
    pub fn from_u64(nr: u64) -> Option<Sysno> {
        Some(match nr {
            0 => Sysno::Null,
            1 => Sysno::DebugPrint,
            2 => Sysno::Yield,
            3 => Sysno::Block,
            4 => Sysno::Exit,
            5 => Sysno::UpcallRegister,
            6 => Sysno::FpuLazy,
            8 => Sysno::EnvSpawn,
            9 => Sysno::EnvKill,
            16 => Sysno::FrameAlloc,
            17 => Sysno::FrameFree,
            18 => Sysno::Map,
            19 => Sysno::Unmap,
            20 => Sysno::Grant,
            21 => Sysno::Revoke,
            22 => Sysno::DumpArea,
            32 => Sysno::SliceAlloc,
            33 => Sysno::SliceFree,
            40 => Sysno::PctCall,
            41 => Sysno::PctSend,
            42 => Sysno::PctReply,
            _ => return None,
        })
    }

    /// The number (the value of `rax`).
    pub const fn nr(self) -> u64 {
        self as u64
    }

    /// Calls that may switch to another environment or end the caller; the
    /// kernel handles them on its full path. All others take the short path
    /// (no context switch).
    pub const fn switches(self) -> bool {
        matches!(
            self,
            Sysno::Yield
                | Sysno::Block
                | Sysno::Exit
                | Sysno::PctCall
                | Sysno::PctSend
                | Sysno::PctReply
        )
    }
}

/// Whether `nr` belongs to the network group.
pub const fn is_net(nr: u64) -> bool {
    nr >= NET_FIRST && nr <= NET_LAST
}

/// The two result registers of a call, decoded.
pub fn decode(status: u64, value: u64) -> Result<u64, Error> {
    Error::check(status).map(|()| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for s in Sysno::ALL {
            assert_eq!(Sysno::from_u64(s.nr()), Some(s));
        }
        // `ALL` is exhaustive: every number that decodes is in it.
        let known = (0..NET_FIRST).filter(|&n| Sysno::from_u64(n).is_some());
        assert_eq!(known.count(), Sysno::ALL.len());
        assert_eq!(Sysno::from_u64(NET_FIRST), None);
        assert!(is_net(NET_FIRST) && is_net(NET_LAST) && !is_net(NET_LAST + 1));
        assert_eq!(Sysno::from_u64(u64::MAX), None);
    }

    #[test]
    fn results_decode() {
        assert_eq!(decode(0, 42), Ok(42));
        assert_eq!(decode(Error::NotMapped.code(), 42), Err(Error::NotMapped));
    }
}
