//! The exo system-call ABI, shared by the kernel and every library OS so the
//! two sides cannot drift. `docs/ABI.md` is the prose companion of this crate.
//!
//! - [`syscall`]: system-call numbers and the register convention;
//! - [`error`]: the error codes every system call may return;
//! - [`caps`]: capability and flag bits (frame capabilities, mapping rights,
//!   upcall kinds);
//! - [`ids`]: environment identifiers;
//! - [`layout`]: the fixed virtual addresses of the user half, including the
//!   read-only pages the kernel exports into every environment;
//! - [`export`]: the layouts of those exported pages (kernel information and
//!   clock, frame ownership table, environment table, time-slice vector);
//! - [`private`]: the per-environment read-only page (identity and the
//!   repossession vector);
//! - [`upcall`]: the frame the kernel pushes when it upcalls an environment;
//! - [`net`]: the network calls, the bind request, the receive ring and
//!   the exported network counters;
//! - [`netprobe`]: not ABI: the protocol of the in-QEMU test program
//!   `netprobe`;
//! - [`probe`]: not ABI: the protocol of the in-QEMU test program `probe`.
//!
//! Every exported structure is `#[repr(C)]` with explicit padding; the host
//! tests of each module pin sizes and field offsets.
#![no_std]
#![forbid(unsafe_code)]

pub mod caps;
pub mod error;
pub mod export;
pub mod ids;
pub mod layout;
pub mod net;
pub mod netprobe;
pub mod private;
pub mod probe;
pub mod syscall;
pub mod upcall;

pub use caps::{FrameCaps, MapFlags, UpcallKinds};
pub use error::Error;
pub use ids::EnvId;
pub use syscall::Sysno;
pub use upcall::{UpcallFrame, UpcallKind};

/// Version of this ABI, reported in [`export::KernelInfo::abi_version`].
pub const ABI_VERSION: u32 = 1;

/// Size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
