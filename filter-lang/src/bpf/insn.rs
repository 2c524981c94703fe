//! Raw BPF instruction words (RFC 9669 section 3) and opcode constants.
//!
//! An instruction is 64 bits, little-endian on the wire:
//! `opcode:8 | dst_reg:4 | src_reg:4 | offset:16 (signed) | imm:32 (signed)`.
//! `lddw` (a 64-bit immediate load) occupies two consecutive words; the
//! second carries the upper 32 bits of the immediate in its `imm` field.

/// One 64-bit instruction word.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    /// The opcode byte: class in bits 0..3, the rest depends on the class.
    pub code: u8,
    /// Destination register number (0..=15 as encoded; 0..=10 are valid).
    pub dst: u8,
    /// Source register number (0..=15 as encoded; 0..=10 are valid).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl core::fmt::Debug for Insn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Insn {{ code: {:#04x}, dst: {}, src: {}, off: {}, imm: {} }}",
            self.code, self.dst, self.src, self.off, self.imm
        )
    }
}

impl Insn {
    /// Size of one encoded instruction word in bytes.
    pub const SIZE: usize = 8;

    /// Builds an instruction word from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// Decodes one little-endian instruction word.
    pub fn from_bytes(b: [u8; 8]) -> Self {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes this instruction as one little-endian word.
    pub fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The instruction word as a `u64` (as `-- raw` conformance sections and
    /// `llvm-objdump` print them).
    pub fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// The instruction from a `u64` word.
    pub fn from_u64(w: u64) -> Self {
        Insn::from_bytes(w.to_le_bytes())
    }

    /// The instruction class (low three bits of the opcode).
    pub fn class(self) -> u8 {
        self.code & 0x07
    }

    /// Whether this is a call of any kind (helper, local function or
    /// `callx`): class `JMP`, operation `CALL`, either source.
    pub fn is_call(self) -> bool {
        self.class() == code::CLASS_JMP && self.code & code::OP_MASK == code::JMP_CALL
    }
}

/// Decodes a little-endian byte string into instruction words.
///
/// Returns `None` when the length is not a multiple of eight.
pub fn words_from_bytes(bytes: &[u8]) -> Option<alloc::vec::Vec<Insn>> {
    if !bytes.len().is_multiple_of(Insn::SIZE) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(Insn::SIZE)
            .map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                Insn::from_bytes(w)
            })
            .collect(),
    )
}

/// Encodes instruction words as a little-endian byte string (the `.bin` format).
pub fn words_to_bytes(words: &[Insn]) -> alloc::vec::Vec<u8> {
    words.iter().flat_map(|w| w.to_bytes()).collect()
}

/// Opcode constants from RFC 9669.
pub mod code {
    // Instruction classes (bits 0..3).
    pub const CLASS_LD: u8 = 0x00;
    pub const CLASS_LDX: u8 = 0x01;
    pub const CLASS_ST: u8 = 0x02;
    pub const CLASS_STX: u8 = 0x03;
    pub const CLASS_ALU: u8 = 0x04;
    pub const CLASS_JMP: u8 = 0x05;
    pub const CLASS_JMP32: u8 = 0x06;
    pub const CLASS_ALU64: u8 = 0x07;

    // Source bit for ALU and JMP classes.
    pub const SRC_K: u8 = 0x00;
    pub const SRC_X: u8 = 0x08;
    pub const SRC_MASK: u8 = 0x08;

    // ALU operations (bits 4..8).
    pub const ALU_ADD: u8 = 0x00;
    pub const ALU_SUB: u8 = 0x10;
    pub const ALU_MUL: u8 = 0x20;
    pub const ALU_DIV: u8 = 0x30;
    pub const ALU_OR: u8 = 0x40;
    pub const ALU_AND: u8 = 0x50;
    pub const ALU_LSH: u8 = 0x60;
    pub const ALU_RSH: u8 = 0x70;
    pub const ALU_NEG: u8 = 0x80;
    pub const ALU_MOD: u8 = 0x90;
    pub const ALU_XOR: u8 = 0xa0;
    pub const ALU_MOV: u8 = 0xb0;
    pub const ALU_ARSH: u8 = 0xc0;
    pub const ALU_END: u8 = 0xd0;
    pub const OP_MASK: u8 = 0xf0;

    // Jump operations (bits 4..8).
    pub const JMP_JA: u8 = 0x00;
    pub const JMP_JEQ: u8 = 0x10;
    pub const JMP_JGT: u8 = 0x20;
    pub const JMP_JGE: u8 = 0x30;
    pub const JMP_JSET: u8 = 0x40;
    pub const JMP_JNE: u8 = 0x50;
    pub const JMP_JSGT: u8 = 0x60;
    pub const JMP_JSGE: u8 = 0x70;
    pub const JMP_CALL: u8 = 0x80;
    pub const JMP_EXIT: u8 = 0x90;
    pub const JMP_JLT: u8 = 0xa0;
    pub const JMP_JLE: u8 = 0xb0;
    pub const JMP_JSLT: u8 = 0xc0;
    pub const JMP_JSLE: u8 = 0xd0;

    // Load/store size (bits 3..5).
    pub const SIZE_W: u8 = 0x00;
    pub const SIZE_H: u8 = 0x08;
    pub const SIZE_B: u8 = 0x10;
    pub const SIZE_DW: u8 = 0x18;
    pub const SIZE_MASK: u8 = 0x18;

    // Load/store mode (bits 5..8).
    pub const MODE_IMM: u8 = 0x00;
    pub const MODE_ABS: u8 = 0x20;
    pub const MODE_IND: u8 = 0x40;
    pub const MODE_MEM: u8 = 0x60;
    pub const MODE_MEMSX: u8 = 0x80;
    pub const MODE_ATOMIC: u8 = 0xc0;
    pub const MODE_MASK: u8 = 0xe0;

    // Atomic operations (in `imm`).
    pub const ATOMIC_ADD: i32 = 0x00;
    pub const ATOMIC_OR: i32 = 0x40;
    pub const ATOMIC_AND: i32 = 0x50;
    pub const ATOMIC_XOR: i32 = 0xa0;
    pub const ATOMIC_FETCH: i32 = 0x01;
    pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
    pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

    // `call` source field.
    pub const CALL_HELPER: u8 = 0;
    pub const CALL_LOCAL: u8 = 1;
    pub const CALL_HELPER_BTF: u8 = 2;

    /// `lddw`: 64-bit immediate load, two words.
    pub const LDDW: u8 = CLASS_LD | MODE_IMM | SIZE_DW;
}

#[cfg(test)]
mod tests {
    use super::Insn;

    #[test]
    fn calls_are_recognised_by_class_and_operation() {
        for (code, call) in [
            (0x85, true),  // call imm (helper or local)
            (0x8d, true),  // callx
            (0x95, false), // exit
            (0x05, false), // ja
            (0x86, false), // JMP32 class with the call operation: not a call
            (0x84, false), // ALU neg
        ] {
            assert_eq!(Insn::new(code, 0, 0, 0, 0).is_call(), call, "{code:#04x}");
        }
    }
}
