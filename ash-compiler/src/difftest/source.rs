//! A byte-driven source of choices for the program generator: proptest
//! feeds it random (shrinkable) byte vectors, cargo-fuzz the fuzzer's input.

/// A deterministic stream of choices drawn from bytes; zeros once exhausted.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Source<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> Source<'a> {
        Source { data, pos: 0 }
    }

    /// Whether the input is used up.
    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte (0 once exhausted).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// The next 64-bit value.
    pub fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = v << 8 | self.byte() as u64;
        }
        v
    }

    /// A value below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        let v = if n <= 256 {
            self.byte() as usize
        } else {
            (self.byte() as usize) << 8 | self.byte() as usize
        };
        v % n
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An interesting 32-bit immediate: edge values half of the time.
    pub fn imm(&mut self) -> i32 {
        const EDGES: [i32; 12] = [0, 1, -1, 2, 7, 31, 32, 63, 64, i32::MIN, i32::MAX, 0x8000];
        if self.byte() & 1 == 0 {
            self.pick(&EDGES)
        } else {
            self.u64() as i32
        }
    }

    /// An interesting 64-bit value.
    pub fn imm64(&mut self) -> u64 {
        const EDGES: [u64; 8] = [
            0,
            1,
            u64::MAX,
            0x8000_0000,
            0xffff_ffff,
            0x8000_0000_0000_0000,
            0x7fff_ffff_ffff_ffff,
            0xffff_ffff_8000_0000,
        ];
        if self.byte() & 1 == 0 {
            self.pick(&EDGES)
        } else {
            self.u64()
        }
    }
}
