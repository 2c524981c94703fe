//! The byte emitter: one method per instruction form.
//!
//! Conventions: `dst` is the register written (ModRM `rm` for register-register
//! ALU forms, as in Intel's `op r/m, r` encodings); 32-bit forms zero-extend
//! into the full 64-bit register as the hardware does; 8-bit forms emit a REX
//! prefix whenever `spl/bpl/sil/dil` are meant (without one the same bits mean
//! `ah/ch/dh/bh`).

use super::{Cond, Mem, Reg};
use alloc::vec::Vec;

/// Operand size of an instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum OpSize {
    B8,
    B16,
    B32,
    B64,
}

/// Two-operand integer instructions of the `op r/m, r` family.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AluRR {
    Add,
    Or,
    And,
    Sub,
    Xor,
    Cmp,
    Test,
    Mov,
}

impl AluRR {
    /// Opcode of the `op r/m, r` form (operand sizes 16..64).
    fn opcode_mr(self) -> u8 {
        match self {
            AluRR::Add => 0x01,
            AluRR::Or => 0x09,
            AluRR::And => 0x21,
            AluRR::Sub => 0x29,
            AluRR::Xor => 0x31,
            AluRR::Cmp => 0x39,
            AluRR::Test => 0x85,
            AluRR::Mov => 0x89,
        }
    }

    /// The `/digit` of the `81`/`83` immediate group, where one exists.
    fn group1_digit(self) -> Option<u8> {
        match self {
            AluRR::Add => Some(0),
            AluRR::Or => Some(1),
            AluRR::And => Some(4),
            AluRR::Sub => Some(5),
            AluRR::Xor => Some(6),
            AluRR::Cmp => Some(7),
            AluRR::Test | AluRR::Mov => None,
        }
    }
}

/// Shift and rotate operations (the `/digit` of the `C1`/`D3` group).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ShiftOp {
    Rol = 0,
    Shl = 4,
    Shr = 5,
    Sar = 7,
}

/// An x86-64 code buffer.
#[derive(Default, Clone, Debug)]
pub struct Asm {
    buf: Vec<u8>,
}

/// A ModRM operand: a register or memory.
#[derive(Clone, Copy)]
enum Rm {
    Reg(Reg),
    Mem(Mem),
}

impl Asm {
    /// An empty buffer.
    pub fn new() -> Asm {
        Asm { buf: Vec::new() }
    }

    /// An empty buffer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Asm {
        Asm {
            buf: Vec::with_capacity(n),
        }
    }

    /// Bytes emitted so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The emitted bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The emitted bytes, consuming the buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Empties the buffer, keeping its capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Overwrites four bytes at `at` with `v` (little-endian), for patching.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    fn bytes_in(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn imm32(&mut self, v: i32) {
        self.bytes_in(&v.to_le_bytes());
    }

    /// Emits the legacy/REX prefixes, the opcode and the ModRM (+SIB, disp)
    /// of one instruction. `reg` is the ModRM reg field (a register number
    /// or a `/digit`), `reg_is_byte_reg` says whether it names an 8-bit
    /// register (for the REX rule of `spl..dil`).
    fn encode(&mut self, size: OpSize, opcode: &[u8], reg: u8, reg_is_byte_reg: bool, rm: Rm) {
        if size == OpSize::B16 {
            self.byte(0x66);
        }
        let w = size == OpSize::B64;
        let r = reg >= 8;
        let (b, rm_byte_rex) = match rm {
            Rm::Reg(x) => (x.ext(), size == OpSize::B8 && x.byte_needs_rex()),
            Rm::Mem(m) => (m.base.ext(), false),
        };
        let reg_byte_rex = size == OpSize::B8 && reg_is_byte_reg && (4..8).contains(&reg);
        if w || r || b || rm_byte_rex || reg_byte_rex {
            self.byte(0x40 | (w as u8) << 3 | (r as u8) << 2 | b as u8);
        }
        self.bytes_in(opcode);
        let regf = (reg & 7) << 3;
        match rm {
            Rm::Reg(x) => self.byte(0xc0 | regf | x.low()),
            Rm::Mem(m) => {
                let base = m.base.low();
                let (md, disp) = if m.disp == 0 && base != 5 {
                    (0x00, 0)
                } else if i8::try_from(m.disp).is_ok() {
                    (0x40, 1)
                } else {
                    (0x80, 4)
                };
                self.byte(md | regf | base);
                if base == 4 {
                    // rsp/r12 as base needs a SIB byte: no index, base = rsp/r12.
                    self.byte(0x24);
                }
                match disp {
                    1 => self.byte(m.disp as i8 as u8),
                    4 => self.imm32(m.disp),
                    _ => {}
                }
            }
        }
    }

    /// `op dst, src` for the two-operand family (`add/or/and/sub/xor/cmp/test/mov`),
    /// 8 to 64 bits.
    pub fn alu_rr(&mut self, op: AluRR, size: OpSize, dst: Reg, src: Reg) {
        let opc = if size == OpSize::B8 {
            op.opcode_mr() - 1
        } else {
            op.opcode_mr()
        };
        self.encode(size, &[opc], src.num(), true, Rm::Reg(dst));
    }

    /// `op dst, imm` with a sign-extended 32-bit (or 8-bit, when it fits)
    /// immediate, for `add/or/and/sub/xor/cmp` at 32 or 64 bits; `test`
    /// uses `F7 /0`; `mov` uses [`Asm::mov_ri32`]/[`Asm::mov_ri64_sx`].
    pub fn alu_ri(&mut self, op: AluRR, size: OpSize, dst: Reg, imm: i32) {
        debug_assert!(matches!(size, OpSize::B32 | OpSize::B64));
        match op {
            AluRR::Test => {
                self.encode(size, &[0xf7], 0, false, Rm::Reg(dst));
                self.imm32(imm);
            }
            AluRR::Mov => {
                if size == OpSize::B64 {
                    self.mov_ri64_sx(dst, imm)
                } else {
                    self.mov_ri32(dst, imm as u32)
                }
            }
            _ => {
                let digit = op.group1_digit().unwrap_or(0);
                if let Ok(i) = i8::try_from(imm) {
                    self.encode(size, &[0x83], digit, false, Rm::Reg(dst));
                    self.byte(i as u8);
                } else {
                    self.encode(size, &[0x81], digit, false, Rm::Reg(dst));
                    self.imm32(imm);
                }
            }
        }
    }

    /// `cmp dword/qword [mem], imm8` (sign-extended).
    pub fn cmp_mi8(&mut self, size: OpSize, mem: Mem, imm: i8) {
        self.encode(size, &[0x83], 7, false, Rm::Mem(mem));
        self.byte(imm as u8);
    }

    /// `mov r32, imm32` (`B8+r`): zero-extends into the 64-bit register.
    pub fn mov_ri32(&mut self, dst: Reg, imm: u32) {
        if dst.ext() {
            self.byte(0x41);
        }
        self.byte(0xb8 + dst.low());
        self.bytes_in(&imm.to_le_bytes());
    }

    /// `mov r64, imm32` sign-extended (`REX.W C7 /0`).
    pub fn mov_ri64_sx(&mut self, dst: Reg, imm: i32) {
        self.encode(OpSize::B64, &[0xc7], 0, false, Rm::Reg(dst));
        self.imm32(imm);
    }

    /// `movabs r64, imm64` (`REX.W B8+r`).
    pub fn mov_ri64(&mut self, dst: Reg, imm: u64) {
        self.byte(0x48 | dst.ext() as u8);
        self.byte(0xb8 + dst.low());
        self.bytes_in(&imm.to_le_bytes());
    }

    /// The shortest move of a 64-bit constant: `xor`, `mov r32`, sign-extended
    /// `mov r64, imm32`, or `movabs`.
    pub fn load_imm64(&mut self, dst: Reg, imm: u64) {
        if imm == 0 {
            self.alu_rr(AluRR::Xor, OpSize::B32, dst, dst);
        } else if imm <= u32::MAX as u64 {
            self.mov_ri32(dst, imm as u32);
        } else if let Ok(v) = i32::try_from(imm as i64) {
            self.mov_ri64_sx(dst, v);
        } else {
            self.mov_ri64(dst, imm);
        }
    }

    /// `mov dst, src` (32 or 64 bits; the 32-bit form zero-extends).
    pub fn mov_rr(&mut self, size: OpSize, dst: Reg, src: Reg) {
        self.alu_rr(AluRR::Mov, size, dst, src);
    }

    /// `imul dst, src` (`0F AF`), 32 or 64 bits.
    pub fn imul_rr(&mut self, size: OpSize, dst: Reg, src: Reg) {
        self.encode(size, &[0x0f, 0xaf], dst.num(), false, Rm::Reg(src));
    }

    /// `imul dst, src, imm` (`6B ib` / `69 id`), 32 or 64 bits.
    pub fn imul_rri(&mut self, size: OpSize, dst: Reg, src: Reg, imm: i32) {
        if let Ok(i) = i8::try_from(imm) {
            self.encode(size, &[0x6b], dst.num(), false, Rm::Reg(src));
            self.byte(i as u8);
        } else {
            self.encode(size, &[0x69], dst.num(), false, Rm::Reg(src));
            self.imm32(imm);
        }
    }

    /// Shift or rotate `dst` by `cl` (`D3 /n`).
    pub fn shift_cl(&mut self, op: ShiftOp, size: OpSize, dst: Reg) {
        self.encode(size, &[0xd3], op as u8, false, Rm::Reg(dst));
    }

    /// Shift or rotate `dst` by an immediate (`C1 /n ib`), 16 to 64 bits.
    pub fn shift_ri(&mut self, op: ShiftOp, size: OpSize, dst: Reg, count: u8) {
        self.encode(size, &[0xc1], op as u8, false, Rm::Reg(dst));
        self.byte(count);
    }

    /// `neg dst`.
    pub fn neg(&mut self, size: OpSize, dst: Reg) {
        self.encode(size, &[0xf7], 3, false, Rm::Reg(dst));
    }

    /// `div src`: unsigned divide `rdx:rax` (or `edx:eax`) by `src`.
    pub fn div(&mut self, size: OpSize, src: Reg) {
        self.encode(size, &[0xf7], 6, false, Rm::Reg(src));
    }

    /// `idiv src`: signed divide `rdx:rax` (or `edx:eax`) by `src`.
    pub fn idiv(&mut self, size: OpSize, src: Reg) {
        self.encode(size, &[0xf7], 7, false, Rm::Reg(src));
    }

    /// `cqo` (64-bit) or `cdq` (32-bit): sign-extend the accumulator into rdx/edx.
    pub fn sign_extend_acc(&mut self, size: OpSize) {
        if size == OpSize::B64 {
            self.byte(0x48);
        }
        self.byte(0x99);
    }

    /// `movzx r32, r8/r16` (zero-extends to 64 bits).
    pub fn movzx_rr(&mut self, from: OpSize, dst: Reg, src: Reg) {
        match from {
            OpSize::B8 => {
                // The REX rule for the 8-bit source: encode with size B8 to get it,
                // but no W bit and no 0x66 prefix.
                let need_rex = dst.ext() || src.ext() || src.byte_needs_rex();
                if need_rex {
                    self.byte(0x40 | (dst.ext() as u8) << 2 | src.ext() as u8);
                }
                self.bytes_in(&[0x0f, 0xb6, 0xc0 | dst.low() << 3 | src.low()]);
            }
            _ => self.encode(OpSize::B32, &[0x0f, 0xb7], dst.num(), false, Rm::Reg(src)),
        }
    }

    /// `movsx r32/r64, r8/r16` or `movsxd r64, r32`.
    pub fn movsx_rr(&mut self, to: OpSize, from: OpSize, dst: Reg, src: Reg) {
        match from {
            OpSize::B8 => {
                let w = to == OpSize::B64;
                let need_rex = w || dst.ext() || src.ext() || src.byte_needs_rex();
                if need_rex {
                    self.byte(0x40 | (w as u8) << 3 | (dst.ext() as u8) << 2 | src.ext() as u8);
                }
                self.bytes_in(&[0x0f, 0xbe, 0xc0 | dst.low() << 3 | src.low()]);
            }
            OpSize::B16 => self.encode(to, &[0x0f, 0xbf], dst.num(), false, Rm::Reg(src)),
            _ => self.encode(OpSize::B64, &[0x63], dst.num(), false, Rm::Reg(src)),
        }
    }

    /// Zero-extending load: `movzx r32, m8/m16`, `mov r32, m32`, `mov r64, m64`.
    pub fn load(&mut self, size: OpSize, dst: Reg, mem: Mem) {
        match size {
            OpSize::B8 => self.encode(OpSize::B32, &[0x0f, 0xb6], dst.num(), false, Rm::Mem(mem)),
            OpSize::B16 => self.encode(OpSize::B32, &[0x0f, 0xb7], dst.num(), false, Rm::Mem(mem)),
            _ => self.encode(size, &[0x8b], dst.num(), false, Rm::Mem(mem)),
        }
    }

    /// Sign-extending load to 64 bits: `movsx r64, m8/m16`, `movsxd r64, m32`.
    pub fn load_sx(&mut self, from: OpSize, dst: Reg, mem: Mem) {
        let opc: &[u8] = match from {
            OpSize::B8 => &[0x0f, 0xbe],
            OpSize::B16 => &[0x0f, 0xbf],
            _ => &[0x63],
        };
        self.encode(OpSize::B64, opc, dst.num(), false, Rm::Mem(mem));
    }

    /// Store of the low `size` bits of `src` (`88` / `66 89` / `89` / `REX.W 89`).
    pub fn store(&mut self, size: OpSize, mem: Mem, src: Reg) {
        let opc = if size == OpSize::B8 { 0x88 } else { 0x89 };
        self.encode(size, &[opc], src.num(), true, Rm::Mem(mem));
    }

    /// Store of an immediate: `C6 /0 ib`, `66 C7 /0 iw`, `C7 /0 id`, or
    /// `REX.W C7 /0 id` (sign-extended to 64 bits).
    pub fn store_imm(&mut self, size: OpSize, mem: Mem, imm: i32) {
        match size {
            OpSize::B8 => {
                self.encode(size, &[0xc6], 0, false, Rm::Mem(mem));
                self.byte(imm as u8);
            }
            OpSize::B16 => {
                self.encode(size, &[0xc7], 0, false, Rm::Mem(mem));
                self.bytes_in(&(imm as u16).to_le_bytes());
            }
            _ => {
                self.encode(size, &[0xc7], 0, false, Rm::Mem(mem));
                self.imm32(imm);
            }
        }
    }

    /// `lea dst, [mem]` (64-bit).
    pub fn lea(&mut self, dst: Reg, mem: Mem) {
        self.encode(OpSize::B64, &[0x8d], dst.num(), false, Rm::Mem(mem));
    }

    /// `bswap r32/r64`.
    pub fn bswap(&mut self, size: OpSize, r: Reg) {
        let w = size == OpSize::B64;
        if w || r.ext() {
            self.byte(0x40 | (w as u8) << 3 | r.ext() as u8);
        }
        self.bytes_in(&[0x0f, 0xc8 + r.low()]);
    }

    /// `lock op [mem], src` for `add/or/and/xor`, 32 or 64 bits.
    pub fn lock_alu_mr(&mut self, op: AluRR, size: OpSize, mem: Mem, src: Reg) {
        self.byte(0xf0);
        self.encode(size, &[op.opcode_mr()], src.num(), false, Rm::Mem(mem));
    }

    /// `lock xadd [mem], src`.
    pub fn lock_xadd(&mut self, size: OpSize, mem: Mem, src: Reg) {
        self.byte(0xf0);
        self.encode(size, &[0x0f, 0xc1], src.num(), false, Rm::Mem(mem));
    }

    /// `xchg [mem], src` (always locked).
    pub fn xchg_mr(&mut self, size: OpSize, mem: Mem, src: Reg) {
        self.encode(size, &[0x87], src.num(), false, Rm::Mem(mem));
    }

    /// `lock cmpxchg [mem], src` (compares with rax/eax).
    pub fn lock_cmpxchg(&mut self, size: OpSize, mem: Mem, src: Reg) {
        self.byte(0xf0);
        self.encode(size, &[0x0f, 0xb1], src.num(), false, Rm::Mem(mem));
    }

    /// `push r64`.
    pub fn push(&mut self, r: Reg) {
        if r.ext() {
            self.byte(0x41);
        }
        self.byte(0x50 + r.low());
    }

    /// `pop r64`.
    pub fn pop(&mut self, r: Reg) {
        if r.ext() {
            self.byte(0x41);
        }
        self.byte(0x58 + r.low());
    }

    /// `ret`.
    pub fn ret(&mut self) {
        self.byte(0xc3);
    }

    /// `ud2`: traps if ever reached.
    pub fn ud2(&mut self) {
        self.bytes_in(&[0x0f, 0x0b]);
    }

    /// `call r64` (`FF /2`).
    pub fn call_r(&mut self, r: Reg) {
        self.encode(OpSize::B32, &[0xff], 2, false, Rm::Reg(r));
    }

    /// `call rel32`; `rel` counts from the end of this 5-byte instruction.
    pub fn call_rel32(&mut self, rel: i32) {
        self.byte(0xe8);
        self.imm32(rel);
    }

    /// `jmp rel8` (2 bytes).
    pub fn jmp_rel8(&mut self, rel: i8) {
        self.bytes_in(&[0xeb, rel as u8]);
    }

    /// `jmp rel32` (5 bytes).
    pub fn jmp_rel32(&mut self, rel: i32) {
        self.byte(0xe9);
        self.imm32(rel);
    }

    /// `jcc rel8` (2 bytes).
    pub fn jcc_rel8(&mut self, cond: Cond, rel: i8) {
        self.bytes_in(&[0x70 + cond as u8, rel as u8]);
    }

    /// `jcc rel32` (6 bytes).
    pub fn jcc_rel32(&mut self, cond: Cond, rel: i32) {
        self.bytes_in(&[0x0f, 0x80 + cond as u8]);
        self.imm32(rel);
    }
}

impl Asm {
    /// `lea dst, [rip + rel]`; `rel` counts from the end of this 7-byte
    /// instruction. Returns the offset of the displacement, for patching.
    pub fn lea_rip(&mut self, dst: Reg, rel: i32) -> usize {
        self.byte(0x48 | (dst.ext() as u8) << 2);
        self.byte(0x8d);
        self.byte(dst.low() << 3 | 0b101);
        let at = self.len();
        self.imm32(rel);
        at
    }

    /// `cmp reg, [mem]` (`3B /r`), 32 or 64 bits.
    pub fn cmp_rm(&mut self, size: OpSize, reg: Reg, mem: Mem) {
        self.encode(size, &[0x3b], reg.num(), false, Rm::Mem(mem));
    }

    /// `jmp r64` (`FF /4`).
    pub fn jmp_r(&mut self, r: Reg) {
        self.encode(OpSize::B32, &[0xff], 4, false, Rm::Reg(r));
    }

    /// `n` bytes of recommended multi-byte NOPs (at most 9 bytes each).
    pub fn nop(&mut self, mut n: usize) {
        const NOPS: [&[u8]; 9] = [
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        while n > 0 {
            let k = n.min(9);
            self.bytes_in(NOPS[k - 1]);
            n -= k;
        }
    }

    /// Appends raw bytes (data tables placed after code).
    pub fn data(&mut self, bytes: &[u8]) {
        self.bytes_in(bytes);
    }

    /// Appends the bytes of another buffer (position-independent code only).
    pub fn append(&mut self, other: &Asm) {
        self.buf.extend_from_slice(&other.buf);
    }
}
