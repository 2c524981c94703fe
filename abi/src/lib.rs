//! The exo system-call ABI, shared by the kernel and every library OS so the
//! two sides cannot drift. See `docs/ABI.md`.
#![no_std]
#![forbid(unsafe_code)]
