//! Handler programs the kernel installs itself: `examples/*.exo` compiled
//! to `exo-filter compile` objects by the build script (`build_net.rs`)
//! and embedded here, so they take exactly the path a library OS's object
//! takes: strict decode, verifier, JIT.

/// `examples/udp_echo.exo`: UDP echo (RFC 862) on port 7, answered by the
/// handler in the kernel.
pub static UDP_ECHO_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/udp_echo.xo"));
/// Counter indices of the echo handler, in declaration order.
pub const UDP_ECHO_ECHOED: usize = 0;
pub const UDP_ECHO_TOO_BIG: usize = 1;
