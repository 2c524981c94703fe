//! The object decoder (what the kernel runs on untrusted objects) never
//! panics, and whatever it accepts is the canonical encoding of what it
//! returns.
#![no_main]

use filter_lang::object::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = decode(data) {
        let again = encode(&obj).expect("a decoded object encodes");
        assert_eq!(again, data, "accepted bytes are canonical");
        let _ = obj.handler_program();
        let _ = obj.spec();
    }
});
