//! What the verifier is told about a program at load time: its type (which
//! fixes the context, the verdict and the helpers), the application regions
//! bound to it, its counters, and the limits to enforce.
//!
//! Base addresses are runtime facts the verifier never sees: it proves
//! accesses relative to the objects, each engine binds the addresses.

use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// The packet context (program type `packet`): the layout r1 points to.
pub mod packet_ctx {
    /// `data: u64`: address of the first packet byte.
    pub const DATA: i64 = 0;
    /// `data_end: u64`: address one past the last packet byte.
    pub const DATA_END: i64 = 8;
    /// `len: u32`: packet length in bytes.
    pub const LEN: i64 = 16;
    /// `ifindex: u32`: the receiving interface.
    pub const IFINDEX: i64 = 20;
    /// Size of the context structure in bytes.
    pub const SIZE: usize = 24;
    /// Largest packet length a handler can be given (the `len` field is at
    /// most this; the verifier relies on it).
    pub const MAX_PACKET_LEN: u64 = 65535;
}

/// Verdicts of a `packet` program (r0 at exit).
pub mod verdict {
    /// The handler consumed the frame; the kernel drops it afterwards.
    pub const CONSUMED: u64 = 0;
    /// The frame is also delivered to the owner's receive ring.
    pub const DELIVER: u64 = 1;
}

/// A program type: fixes the context r1 points to, what r0 at exit means, and
/// which helpers exist.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProgramType {
    /// Application-specific handlers: r1 = read-only packet context, r0 at
    /// exit = verdict (0 consumed, 1 deliver), ASH helpers.
    Packet,
    /// Conformance and tests: r1 = a read-write buffer of `size` bytes (may
    /// be 0, then r1 may be 0), r2 = `size`, any scalar r0, helper 5 only.
    Memory { size: u32 },
}

/// Why a program type name does not parse.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ProgramTypeParseError {
    /// Neither `packet` nor `memory:SIZE`.
    Unknown,
    /// `memory:SIZE` with a SIZE that is not a decimal u32.
    BadSize,
}

impl fmt::Display for ProgramTypeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramTypeParseError::Unknown => {
                write!(
                    f,
                    "unknown program type (expected `packet` or `memory:SIZE`)"
                )
            }
            ProgramTypeParseError::BadSize => {
                write!(
                    f,
                    "memory:SIZE needs SIZE as a decimal number of bytes (0..=4294967295)"
                )
            }
        }
    }
}

impl FromStr for ProgramType {
    type Err = ProgramTypeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "packet" {
            return Ok(ProgramType::Packet);
        }
        match s.strip_prefix("memory:") {
            Some(n) => n
                .parse()
                .map(|size| ProgramType::Memory { size })
                .map_err(|_| ProgramTypeParseError::BadSize),
            None => Err(ProgramTypeParseError::Unknown),
        }
    }
}

impl fmt::Display for ProgramType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramType::Packet => write!(f, "packet"),
            ProgramType::Memory { size } => write!(f, "memory:{size}"),
        }
    }
}

/// An application region bound to a handler (region id = index in
/// [`ProgramSpec::regions`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RegionDecl {
    /// Size in bytes.
    pub size: u32,
    /// Whether the handler may store to it.
    pub writable: bool,
}

/// Limits the verifier enforces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// Maximum program length in instruction words.
    pub max_insns: usize,
    /// Maximum number of abstract states kept for pruning (the state
    /// explosion cap).
    pub max_states: usize,
    /// Maximum number of instructions the analysis may process over all
    /// paths (bounds verification time).
    pub max_processed: usize,
    /// Maximum call frames, the main program's included (at most 256 are
    /// ever allowed).
    pub max_call_frames: usize,
    /// Maximum analysis work: one unit per instruction processed, per
    /// register or stack slot of every state compared, copied or scanned
    /// and per stack byte checked (bounds verification time whatever the
    /// states' sizes: about 0.1 s on a current x86-64 core).
    pub max_work: u64,
    /// Maximum registers and stack slots held at once in stored and pending
    /// states, each 80 bytes (bounds the verifier's memory).
    pub max_state_cells: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_insns: 4096,
            max_states: 8_192,
            max_processed: 262_144,
            max_call_frames: 8,
            max_work: 1 << 24,
            max_state_cells: 1 << 16,
        }
    }
}

/// Everything the verifier is told about a program besides its code.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProgramSpec {
    pub ty: ProgramType,
    /// Application regions, indexed by region id.
    pub regions: Vec<RegionDecl>,
    /// Number of per-handler counters (valid indices `0..counters`).
    pub counters: u32,
    pub limits: Limits,
}

impl ProgramSpec {
    /// A spec of type `ty` with no regions, no counters and default limits.
    pub fn new(ty: ProgramType) -> Self {
        ProgramSpec {
            ty,
            regions: Vec::new(),
            counters: 0,
            limits: Limits::default(),
        }
    }
}

impl core::error::Error for ProgramTypeParseError {}
