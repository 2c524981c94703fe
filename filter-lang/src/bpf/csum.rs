//! The Internet checksum (RFC 1071): the ones-complement sum of 16-bit
//! big-endian words, an odd trailing byte padded with zero, folded to 16 bits.
//! Helpers return the folded sum *not* inverted, so it can seed further sums;
//! a header's checksum field is its complement.

/// A running Internet checksum over bytes fed in any number of pieces.
#[derive(Clone, Copy, Debug, Default)]
pub struct Csum {
    sum: u64,
    /// A byte waiting for its partner when a piece had odd length.
    pending: Option<u8>,
}

/// Folds a 64-bit ones-complement accumulator to 16 bits.
pub fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

impl Csum {
    /// A sum starting from `seed` (a 64-bit value, folded first).
    pub fn with_seed(seed: u64) -> Self {
        Csum {
            sum: fold(seed) as u64,
            pending: None,
        }
    }

    /// Adds `bytes` as the continuation of everything added so far.
    pub fn add(&mut self, mut bytes: &[u8]) {
        if let Some(hi) = self.pending.take() {
            match bytes.split_first() {
                Some((&lo, rest)) => {
                    self.word(u16::from_be_bytes([hi, lo]));
                    bytes = rest;
                }
                None => {
                    self.pending = Some(hi);
                    return;
                }
            }
        }
        let mut pairs = bytes.chunks_exact(2);
        for p in &mut pairs {
            self.word(u16::from_be_bytes([p[0], p[1]]));
        }
        if let [b] = pairs.remainder() {
            self.pending = Some(*b);
        }
    }

    fn word(&mut self, w: u16) {
        self.sum += w as u64;
        // Keep the accumulator far from overflow on very long inputs.
        if self.sum >> 48 != 0 {
            self.sum = fold(self.sum) as u64;
        }
    }

    /// The folded 16-bit sum (not inverted).
    pub fn finish(self) -> u16 {
        let mut sum = self.sum;
        if let Some(hi) = self.pending {
            sum += (hi as u64) << 8;
        }
        fold(sum)
    }
}

/// The folded sum of `seed` and `bytes`.
pub fn checksum(bytes: &[u8], seed: u64) -> u16 {
    let mut c = Csum::with_seed(seed);
    c.add(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&b, 0), 0xddf2);
    }

    #[test]
    fn pieces_of_any_length_give_the_same_sum() {
        let b: alloc::vec::Vec<u8> = (0..101u32).map(|i| (i * 37 + 11) as u8).collect();
        let whole = checksum(&b, 0x1234);
        for split in [1, 2, 3, 50, 99, 100] {
            let mut c = Csum::with_seed(0x1234);
            c.add(&b[..split]);
            c.add(&[]);
            c.add(&b[split..]);
            assert_eq!(c.finish(), whole, "split at {split}");
        }
    }

    #[test]
    fn ipv4_header_verifies_to_all_ones() {
        // A real IPv4 header with its checksum (0xb861) in place.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h, 0), 0xffff);
        assert_eq!(checksum(&[0xff, 0xff], 1), 1);
    }
}
