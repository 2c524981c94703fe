//! Differential fuzzing of the handler JIT: the input drives the program
//! generator of `ash_compiler::difftest` (programs the verifier must accept,
//! for the `memory` and `packet` program types, with random buffers,
//! packets and regions); the JIT, plain and blinded, on heap memory and on
//! memory fenced by guard pages, must give the interpreter's r0, memory and
//! helper effects.
#![no_main]

use ash_compiler::difftest::generate::{Kind, Source, generate};
use ash_compiler::difftest::{Placement, check};
use ash_compiler::host::Flush;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let kind = if first & 1 == 0 {
        Kind::Memory
    } else {
        Kind::Packet
    };
    let case = generate(&mut Source::new(rest), kind);
    let placements = [
        Placement::Heap,
        Placement::Guarded(Flush::Start),
        Placement::Guarded(Flush::End),
    ];
    let seed = u64::from(first) << 32 | data.len() as u64;
    if let Err(e) = check(&case, &placements, seed) {
        panic!("{e:?}\nprogram: {:?}", case.words);
    }
});
