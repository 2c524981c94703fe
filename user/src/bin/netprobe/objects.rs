//! The network objects this program binds, built by `user/build_objects.rs`.

macro_rules! object {
    ($name:ident, $file:literal) => {
        pub static $name: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/", $file));
    };
}

object!(UDP_ECHO, "udp_echo.xo");
object!(VECTOR_PAYLOAD, "vector_payload.xo");
object!(WASM_ECHO, "wasm_echo.xo");
object!(WASM_SPIN, "wasm_spin.xo");
object!(WASM_NO_ENTRY, "wasm_no_entry.xo");
object!(WASM_GARBAGE, "wasm_garbage.xo");
object!(BIG_REGION, "big_region.xo");
object!(BAD_VERIFY, "bad_verify.xo");
object!(RING_A, "ring_a.xo");
object!(RING_B, "ring_b.xo");
object!(RING_SPOOF, "ring_spoof.xo");
object!(RING_DONE, "ring_done.xo");
object!(BYSTANDER, "bystander.xo");
object!(ALL_UDP, "all_udp.xo");
object!(PROGRAM_RING, "program_ring.xo");
