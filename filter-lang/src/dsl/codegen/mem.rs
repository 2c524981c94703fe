//! Reads and writes of packet and region bytes: where a protocol header
//! starts (reading the IPv4 and TCP header lengths), the checks that make
//! each access provably in bounds, and network-order loads and stores.

use super::{DATA, END, Gen, R};
use crate::bpf::{AluOp, EndKind, JmpCond, Op, Reg, Size};
use crate::dsl::hir::Mem;
use crate::dsl::layers::{Base, Field, IP_START, Layer, TCP_DOFF_OFF};

/// Largest offset any packet access may use (no frame is longer).
const MAX_PACKET_OFF: u64 = 0xffff;

/// The offset of an access relative to its layer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Off {
    Const(u64),
    /// The value in this stack slot.
    Slot(i16),
}

pub(super) fn size_of(bytes: u8) -> Size {
    match bytes {
        1 => Size::B,
        2 => Size::H,
        4 => Size::W,
        _ => Size::DW,
    }
}

impl Gen<'_> {
    /// Leaves in r2 a pointer to `width` bytes at `off` from `layer`'s start
    /// in `mem`, proven inside the packet or region (else the fallback).
    /// Clobbers r0-r5.
    pub(super) fn access(&mut self, mem: Mem, layer: Option<Layer>, off: Off, width: u8) -> R<()> {
        let base = layer.map_or(Base::Const(0), Layer::base);
        let w = width as u64;
        if let (Base::Const(b), Off::Const(k)) = (base, off) {
            let t = b as u64 + k;
            match mem {
                Mem::Packet => {
                    self.mov(Reg::R2, DATA);
                    if t > 0 {
                        self.alu_k(AluOp::Add, Reg::R2, t);
                    }
                    self.mov(Reg::R3, Reg::R2);
                    self.alu_k(AluOp::Add, Reg::R3, w);
                    let fb = self.fallback;
                    self.jmp(JmpCond::Gt, Reg::R3, END, fb);
                }
                Mem::Region(id) => {
                    if t + w > self.region(id).size as u64 {
                        return Err(self.too_small(id, t + w));
                    }
                    self.region_ptr(Reg::R2, id);
                    if t > 0 {
                        self.alu_k(AluOp::Add, Reg::R2, t);
                    }
                }
            }
            return Ok(());
        }
        self.base_offset(mem, base)?;
        let fb = self.fallback;
        match off {
            Off::Const(0) => {}
            Off::Const(k) => self.alu_k(AluOp::Add, Reg::R0, k),
            Off::Slot(s) => {
                self.load_slot(Reg::R1, s);
                self.alu(AluOp::Add, Reg::R0, Reg::R1);
                self.jmp(JmpCond::Lt, Reg::R0, Reg::R1, fb);
            }
        }
        match mem {
            Mem::Packet => {
                self.jmp_k(JmpCond::Gt, Reg::R0, MAX_PACKET_OFF, fb);
                self.mov(Reg::R2, DATA);
                self.alu(AluOp::Add, Reg::R2, Reg::R0);
                self.mov(Reg::R3, Reg::R2);
                self.alu_k(AluOp::Add, Reg::R3, w);
                self.jmp(JmpCond::Gt, Reg::R3, END, fb);
            }
            Mem::Region(id) => {
                let size = self.region(id).size as u64;
                if size < w {
                    return Err(self.too_small(id, w));
                }
                self.jmp_k(JmpCond::Gt, Reg::R0, size - w, fb);
                self.region_ptr(Reg::R2, id);
                self.alu(AluOp::Add, Reg::R2, Reg::R0);
            }
        }
        Ok(())
    }

    /// r0 = where `base` starts in `mem`. Clobbers r2-r4.
    pub(super) fn base_offset(&mut self, mem: Mem, base: Base) -> R<()> {
        let fb = self.fallback;
        match base {
            Base::Const(b) => self.mov_imm(Reg::R0, b as u64),
            Base::AfterIp(plus) => {
                // ihl: the low nibble of the first IPv4 byte.
                self.access(mem, None, Off::Const(IP_START as u64), 1)?;
                self.load(Size::B, Reg::R0, Reg::R2, 0);
                self.alu_k(AluOp::And, Reg::R0, 0x0f);
                self.jmp_k(JmpCond::Lt, Reg::R0, 5, fb);
                self.alu_k(AluOp::Lsh, Reg::R0, 2);
                self.alu_k(AluOp::Add, Reg::R0, IP_START as u64 + plus as u64);
            }
            Base::TcpData => {
                self.base_offset(mem, Base::AfterIp(0))?;
                self.mov(Reg::R4, Reg::R0);
                // doff: the high nibble of byte 12 of the TCP header.
                let need = TCP_DOFF_OFF as u64 + 1;
                match mem {
                    Mem::Packet => {
                        self.mov(Reg::R2, DATA);
                        self.alu(AluOp::Add, Reg::R2, Reg::R0);
                        self.mov(Reg::R3, Reg::R2);
                        self.alu_k(AluOp::Add, Reg::R3, need);
                        self.jmp(JmpCond::Gt, Reg::R3, END, fb);
                    }
                    Mem::Region(id) => {
                        let size = self.region(id).size as u64;
                        if size < need {
                            return Err(self.too_small(id, need));
                        }
                        self.jmp_k(JmpCond::Gt, Reg::R0, size - need, fb);
                        self.region_ptr(Reg::R2, id);
                        self.alu(AluOp::Add, Reg::R2, Reg::R0);
                    }
                }
                self.load(Size::B, Reg::R0, Reg::R2, TCP_DOFF_OFF as i16);
                self.alu_k(AluOp::Rsh, Reg::R0, 4);
                self.jmp_k(JmpCond::Lt, Reg::R0, 5, fb);
                self.alu_k(AluOp::Lsh, Reg::R0, 2);
                self.alu(AluOp::Add, Reg::R0, Reg::R4);
            }
        }
        Ok(())
    }

    /// r0 = the `bytes` bytes at r2 as a big-endian number (1, 2, 4, 6, 8).
    pub(super) fn load_be(&mut self, bytes: u8) {
        if bytes == 6 {
            self.load(Size::W, Reg::R0, Reg::R2, 0);
            self.bswap(Reg::R0, 32);
            self.alu_k(AluOp::Lsh, Reg::R0, 16);
            self.load(Size::H, Reg::R1, Reg::R2, 4);
            self.bswap(Reg::R1, 16);
            self.alu(AluOp::Or, Reg::R0, Reg::R1);
            return;
        }
        self.load(size_of(bytes), Reg::R0, Reg::R2, 0);
        if bytes > 1 {
            self.bswap(Reg::R0, 8 * bytes);
        }
    }

    /// Stores r1 as `bytes` big-endian bytes at r2 (r1 is clobbered).
    pub(super) fn store_be(&mut self, bytes: u8) {
        if bytes == 6 {
            self.mov(Reg::R3, Reg::R1);
            self.alu_k(AluOp::Rsh, Reg::R3, 16);
            self.bswap(Reg::R3, 32);
            self.store(Size::W, Reg::R2, 0, Reg::R3);
            self.bswap(Reg::R1, 16);
            self.store(Size::H, Reg::R2, 4, Reg::R1);
            return;
        }
        if bytes > 1 {
            self.bswap(Reg::R1, 8 * bytes);
        }
        self.store(size_of(bytes), Reg::R2, 0, Reg::R1);
    }

    /// Converts the low `bits` of `r` to network order (and back).
    fn bswap(&mut self, r: Reg, bits: u8) {
        self.op(Op::End {
            kind: EndKind::ToBe,
            bits,
            dst: r,
        });
    }

    /// r0 = field `f` read from r2.
    pub(super) fn load_field(&mut self, f: &Field) {
        self.load_be(f.bytes);
        if f.is_whole() {
            return;
        }
        if f.shift > 0 {
            self.alu_k(AluOp::Rsh, Reg::R0, f.shift as u64);
        }
        self.alu_k(AluOp::And, Reg::R0, f.max());
    }

    /// Stores r1 (already known to fit) into field `f` at r2.
    pub(super) fn store_field(&mut self, f: &Field) {
        if !f.is_whole() {
            let keep = !(f.max() << f.shift) & super::super::check::max_of(f.bytes);
            self.load_be(f.bytes);
            self.alu_k(AluOp::And, Reg::R0, keep);
            if f.shift > 0 {
                self.alu_k(AluOp::Lsh, Reg::R1, f.shift as u64);
            }
            self.alu(AluOp::Or, Reg::R1, Reg::R0);
        }
        self.store_be(f.bytes);
    }
}
