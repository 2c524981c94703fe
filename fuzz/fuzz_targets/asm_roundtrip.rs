//! The assembler on arbitrary text: it must never panic, and what it
//! assembles must survive disassembly and reassembly word for word.
#![no_main]

use filter_lang::bpf::asm::{assemble, disassemble};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(prog) = assemble(&text) else {
        return;
    };
    let listing = disassemble(&prog.words);
    let again = assemble(&listing)
        .unwrap_or_else(|e| panic!("disassembly does not assemble: {e}\n{listing}"));
    assert_eq!(
        again.words, prog.words,
        "round trip changed the words:\n{listing}"
    );
});
