//! Differential fuzzing of the filter-trie compiler: the input drives random
//! filter insertions and removals (applied in place to leaf tables when
//! possible, recompiled otherwise) and frames; the compiled classifier
//! (blinded or not) must pick the same filter as `Classifier::classify` on
//! every frame.
#![no_main]

use ash_compiler::difftest::trie::{Rng, check_case};
use ash_compiler::trie::TrieOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = TrieOptions {
        linear_max: (first % 6) as usize,
        blinding: (first & 0x80 != 0).then_some(u64::from(first) * 0x9e37_79b9),
    };
    if let Err(e) = check_case(&mut Rng::from_bytes(rest), opts) {
        panic!("{e}");
    }
});
