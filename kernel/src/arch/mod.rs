//! The architecture seam. Only `x86_64` exists; the rest of the kernel uses
//! what this module re-exports and never touches CPU state directly.

mod x86_64;

pub use self::x86_64::*;
