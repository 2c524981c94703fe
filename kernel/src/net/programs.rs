//! Handler programs the kernel installs itself, compiled from the DSL
//! sources in `examples/` at run time (`filter_lang::dsl` is `no_std`) and
//! encoded as `exo-filter compile` objects, so they take exactly the path a
//! library OS's object takes: strict decode, verifier, JIT.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use filter_lang::{dsl, object};

/// `examples/udp_echo.exo`: UDP echo (RFC 862) on port 7, answered by the
/// handler in the kernel.
pub const UDP_ECHO_SOURCE: &str = include_str!("../../../examples/udp_echo.exo");
/// Counter indices of the echo handler, in declaration order.
pub const UDP_ECHO_ECHOED: usize = 0;
pub const UDP_ECHO_TOO_BIG: usize = 1;

/// Compiles DSL `source` (named `file`) to object bytes.
pub fn compile_object(source: &str, file: &str) -> Result<Vec<u8>, String> {
    let compiled = dsl::compile(source).map_err(|e| alloc::format!("{file}: {e}"))?;
    object::encode(&compiled.object(file)).map_err(|e| e.to_string())
}

/// The UDP echo object.
pub fn udp_echo_object() -> Result<Vec<u8>, String> {
    compile_object(UDP_ECHO_SOURCE, "udp_echo.exo")
}
