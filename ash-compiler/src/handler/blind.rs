//! Constant blinding: keys for hiding program-chosen immediates.
//!
//! With blinding on, an immediate `imm` never appears in the code: the JIT
//! emits `mov scratch, imm ^ key; xor scratch, key` with a fresh key per
//! immediate and uses the register instead. This defeats JIT spraying, where
//! an attacker plants chosen byte sequences as immediates. The keys come from
//! a SplitMix64 sequence seeded by the caller (the kernel seeds it from its
//! entropy source; the crate is `no_std` and has none of its own).

/// A SplitMix64 key sequence.
#[derive(Clone, Debug)]
pub struct KeyStream {
    state: u64,
}

impl KeyStream {
    /// A sequence starting from `seed`.
    pub fn new(seed: u64) -> KeyStream {
        KeyStream { state: seed }
    }

    /// The next 64-bit key.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32-bit key, never zero (a zero key would leave the immediate visible).
    pub fn next_i32(&mut self) -> i32 {
        loop {
            let k = self.next_u64() as u32 as i32;
            if k != 0 {
                return k;
            }
        }
    }
}
