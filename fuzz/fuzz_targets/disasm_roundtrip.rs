//! The disassembler on arbitrary words (valid or not): its listing must
//! assemble back to exactly the same words.
#![no_main]

use filter_lang::bpf::asm::{assemble, disassemble};
use filter_lang::bpf::insn::Insn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let words: Vec<Insn> = data
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let listing = disassemble(&words);
    let again = assemble(&listing)
        .unwrap_or_else(|e| panic!("disassembly does not assemble: {e}\n{listing}"));
    assert_eq!(
        again.words, words,
        "round trip changed the words:\n{listing}"
    );
});
