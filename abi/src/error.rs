//! Error codes. Every system call returns a status in `rax`: 0 for success
//! or one of these codes. The kernel never crashes on bad arguments; it
//! answers with the code that says what to fix.

use core::fmt;

/// A system-call error (the value of `rax` when it is not 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Error {
    /// `rax` held no known system-call number.
    UnknownSyscall = 1,
    /// An argument is out of its documented range.
    InvalidArgument = 2,
    /// A user buffer is not mapped (or not writable where the kernel writes).
    BadAddress = 3,
    /// An address or size that must be page aligned is not.
    NotAligned = 4,
    /// The virtual address lies in the kernel half or in the kernel-managed
    /// read-only region at the top of the user half.
    ReservedAddress = 5,
    /// The caller holds no capability (or not the needed one) on the frame.
    NoCapability = 6,
    /// Only the owner of the resource may do this.
    NotOwner = 7,
    /// The requested physical frame is not free (or not RAM).
    FrameUnavailable = 8,
    /// No free physical frame is left.
    OutOfMemory = 9,
    /// The environment reached its frame quota.
    QuotaExceeded = 10,
    /// Something is already mapped at that virtual address.
    AlreadyMapped = 11,
    /// Nothing is mapped at that virtual address.
    NotMapped = 12,
    /// No live environment has that identifier.
    NoSuchEnv = 13,
    /// The caller may not act on that environment (not its parent, or itself).
    NotPermitted = 14,
    /// Every slot of the time-slice vector is allocated.
    NoFreeSlot = 15,
    /// The requested time-slice slot belongs to another environment.
    SlotTaken = 16,
    /// The slot is not owned by the caller (or is its last guaranteed one).
    NotSlotOwner = 17,
    /// The target is waiting for a reply of its own and takes no transfer.
    TargetBusy = 18,
    /// The target declared no entry point for this kind of upcall.
    NoEntryPoint = 19,
    /// The target of a reply is not waiting for a reply from the caller.
    NotAwaitingReply = 20,
    /// The peer of a protected control transfer died before replying.
    PeerDied = 21,
    /// The deadline passed before the event.
    TimedOut = 22,
    /// The frame is pinned by a kernel binding (e.g. a network ring).
    FramePinned = 23,
    /// The frame would be mapped more often than the kernel counts.
    TooManyMappings = 24,
    /// No embedded program has that name.
    NoSuchProgram = 25,
    /// The environment table is full.
    TooManyEnvs = 26,
    /// This kernel does not implement the call (e.g. the network group
    /// without a network driver).
    NotSupported = 27,
    /// A buffer is longer than the call accepts.
    TooLong = 28,
    /// Protected control transfers nest deeper than the kernel tracks.
    TooDeep = 29,
    /// The page tables of the environment could not be extended (no memory).
    PageTableMemory = 30,
    /// The frame is part of the environment's guaranteed minimum and the
    /// request would go below it.
    BelowGuarantee = 31,
    /// The program image is not a valid static ring-3 executable.
    BadImage = 32,
    /// The network object does not decode (`docs/OBJECT.md`); the bind
    /// request's message buffer says why.
    BadObject = 33,
    /// The kernel's verifier rejected the handler (or a filter program);
    /// the message buffer holds its report.
    VerifierRejected = 34,
    /// A filter would take frames that another environment's binding
    /// takes, and its owner granted no permission.
    FilterConflict = 35,
    /// A region's pages are smaller than the handler declares (or their
    /// number does not match the declarations).
    RegionTooSmall = 36,
    /// A receive ring needs at least two pages (header and slots).
    RingTooSmall = 37,
    /// The frame's source is not one the sender is bound to (transmit
    /// filter).
    SourceNotBound = 38,
    /// No binding with that id (or not the caller's).
    NoSuchBinding = 39,
    /// Another environment is already the default receiver.
    DefaultTaken = 40,
    /// The WebAssembly handler is invalid or does not follow the handler
    /// ABI (`docs/NET.md`); the message buffer says why.
    BadHandler = 41,
    /// The binding table is full.
    TooManyBindings = 42,
    /// The transmit queue is full; retry later.
    TxQueueFull = 43,
    /// The network link is down (or there is no NIC).
    LinkDown = 44,
}

impl Error {
    /// Every error, in code order.
    pub const ALL: [Error; 44] = [
        Error::UnknownSyscall,
        Error::InvalidArgument,
        Error::BadAddress,
        Error::NotAligned,
        Error::ReservedAddress,
        Error::NoCapability,
        Error::NotOwner,
        Error::FrameUnavailable,
        Error::OutOfMemory,
        Error::QuotaExceeded,
        Error::AlreadyMapped,
        Error::NotMapped,
        Error::NoSuchEnv,
        Error::NotPermitted,
        Error::NoFreeSlot,
        Error::SlotTaken,
        Error::NotSlotOwner,
        Error::TargetBusy,
        Error::NoEntryPoint,
        Error::NotAwaitingReply,
        Error::PeerDied,
        Error::TimedOut,
        Error::FramePinned,
        Error::TooManyMappings,
        Error::NoSuchProgram,
        Error::TooManyEnvs,
        Error::NotSupported,
        Error::TooLong,
        Error::TooDeep,
        Error::PageTableMemory,
        Error::BelowGuarantee,
        Error::BadImage,
        Error::BadObject,
        Error::VerifierRejected,
        Error::FilterConflict,
        Error::RegionTooSmall,
        Error::RingTooSmall,
        Error::SourceNotBound,
        Error::NoSuchBinding,
        Error::DefaultTaken,
        Error::BadHandler,
        Error::TooManyBindings,
        Error::TxQueueFull,
        Error::LinkDown,
    ];

    /// The numeric code (the value of `rax`).
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The error with code `code`, or `None` (0 is success, not an error).
    pub fn from_code(code: u64) -> Option<Error> {
        let index = usize::try_from(code.checked_sub(1)?).ok()?;
        Self::ALL.get(index).copied()
    }

    /// Decodes a status register: `Ok(())` for 0, the error otherwise;
    /// unknown codes (a kernel newer than this ABI) become
    /// [`Error::NotSupported`].
    pub fn check(status: u64) -> Result<(), Error> {
        match status {
            0 => Ok(()),
            code => Err(Self::from_code(code).unwrap_or(Error::NotSupported)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownSyscall => "unknown system call number (see exo_abi::Sysno)",
            Self::InvalidArgument => "an argument is out of its documented range (see docs/ABI.md)",
            Self::BadAddress => "a user buffer is not mapped with the access the call needs",
            Self::NotAligned => "an address or size must be page aligned",
            Self::ReservedAddress => {
                "the address is in the kernel half or the kernel-managed export region"
            }
            Self::NoCapability => "the caller holds no suitable capability on that frame",
            Self::NotOwner => "only the owner of the resource may do this",
            Self::FrameUnavailable => "that physical frame is not free RAM",
            Self::OutOfMemory => "no free physical frame is left",
            Self::QuotaExceeded => "the environment reached its frame quota; free frames first",
            Self::AlreadyMapped => "a page is already mapped there; unmap it first",
            Self::NotMapped => "nothing is mapped at that address",
            Self::NoSuchEnv => "no live environment has that identifier",
            Self::NotPermitted => "the caller may not act on that environment",
            Self::NoFreeSlot => "every time-slice slot is allocated",
            Self::SlotTaken => "that time-slice slot belongs to another environment",
            Self::NotSlotOwner => "the caller does not own that slot (or it is its last one)",
            Self::TargetBusy => "the target is waiting for a reply and takes no transfer now",
            Self::NoEntryPoint => "the target declared no entry point for that upcall",
            Self::NotAwaitingReply => "the target is not waiting for a reply from the caller",
            Self::PeerDied => "the peer died before replying",
            Self::TimedOut => "the deadline passed",
            Self::FramePinned => "the frame is pinned by a kernel binding; release that first",
            Self::TooManyMappings => "the frame is mapped too many times",
            Self::NoSuchProgram => "no embedded program has that name",
            Self::TooManyEnvs => "the environment table is full",
            Self::NotSupported => "this kernel does not implement that call",
            Self::TooLong => "the buffer is longer than the call accepts",
            Self::TooDeep => "protected control transfers nest too deeply",
            Self::PageTableMemory => "no memory is left for the environment's page tables",
            Self::BelowGuarantee => "that would go below the environment's guaranteed minimum",
            Self::BadImage => "the program image is not a valid static ring-3 executable",
            Self::BadObject => "the network object does not decode (see the message buffer)",
            Self::VerifierRejected => "the verifier rejected the handler (see the message buffer)",
            Self::FilterConflict => {
                "a filter overlaps another environment's binding; ask its owner for a grant"
            }
            Self::RegionTooSmall => "a region's pages are smaller than the handler declares",
            Self::RingTooSmall => "a receive ring needs at least two pages",
            Self::SourceNotBound => "the frame's source is not an address the sender is bound to",
            Self::NoSuchBinding => "no binding of the caller has that id",
            Self::DefaultTaken => "another environment already receives the unclaimed frames",
            Self::BadHandler => "the WebAssembly handler breaks the handler ABI (see the message)",
            Self::TooManyBindings => "the binding table is full",
            Self::TxQueueFull => "the transmit queue is full; retry later",
            Self::LinkDown => "the network link is down or there is no NIC",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_dense() {
        for (i, e) in Error::ALL.iter().enumerate() {
            assert_eq!(e.code(), i as u64 + 1, "{e:?} is out of order");
            assert_eq!(Error::from_code(e.code()), Some(*e));
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(Error::ALL.len() as u64 + 1), None);
        assert_eq!(Error::from_code(u64::MAX), None);
    }

    #[test]
    fn status_decoding() {
        assert_eq!(Error::check(0), Ok(()));
        assert_eq!(Error::check(6), Err(Error::NoCapability));
        assert_eq!(Error::check(9999), Err(Error::NotSupported));
    }

    #[test]
    fn messages_are_distinct() {
        extern crate std;
        use std::string::ToString;
        let mut seen = std::collections::BTreeSet::new();
        for e in Error::ALL {
            assert!(seen.insert(e.to_string()), "duplicate message for {e:?}");
        }
    }
}
