//! Memory rules: which loads, stores and atomics are safe through which
//! pointer, what a load yields, and how stores change the tracked stack.

use super::error::VerifyErrorKind as K;
use super::scalar::Scalar;
use super::state::{Byte, Frame, Ptr, PtrKind, STACK_SIZE, Slot, State, Value};
use crate::bpf::spec::{ProgramSpec, ProgramType, packet_ctx};

/// What an access does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// A load (sign-extending or not).
    Read { sign_extend: bool },
    /// A store of this value.
    Write(Value),
    /// An atomic read-modify-write with a scalar operand.
    Atomic,
}

/// The unknown value of a `size`-byte load.
pub fn loaded(size: usize, sign_extend: bool) -> Scalar {
    let bits = 8 * size as u32;
    if size >= 8 {
        Scalar::UNKNOWN
    } else if sign_extend {
        Scalar::srange(-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    } else {
        Scalar::urange(0, (1u64 << bits) - 1)
    }
}

fn sign_extend(v: Scalar, size: usize) -> Scalar {
    if size >= 8 {
        return v;
    }
    Scalar::alu(
        crate::bpf::op::Width::W64,
        crate::bpf::op::AluOp::MovSx(8 * size as u8),
        &Scalar::konst(0),
        &v,
    )
}

/// Size in bytes of the object `kind` points into (stack: below fp).
fn object_size(spec: &ProgramSpec, kind: PtrKind) -> i64 {
    match kind {
        PtrKind::Stack(_) => STACK_SIZE,
        PtrKind::Region(id) => spec.regions.get(id as usize).map_or(0, |r| r.size as i64),
        PtrKind::Buffer => match spec.ty {
            ProgramType::Memory { size } => size as i64,
            ProgramType::Packet => 0,
        },
        PtrKind::Ctx => packet_ctx::SIZE as i64,
        PtrKind::Packet | PtrKind::PacketEnd => 0,
    }
}

/// Checks that `[p + off, p + off + len)` lies in `p`'s object for every
/// value of its variable part; returns the byte range relative to the object
/// (fp-relative for the stack).
pub fn bounds(spec: &ProgramSpec, p: &Ptr, off: i64, len: i64) -> Result<(i64, i64), K> {
    let (vlo, vhi) = p.off_bounds();
    let lo = vlo + off;
    let hi = vhi + off + len;
    match p.kind {
        PtrKind::PacketEnd => Err(K::PacketEndAccess),
        PtrKind::Packet => {
            if lo < 0 {
                return Err(K::OutOfBounds {
                    kind: p.kind,
                    lo,
                    hi,
                    size: p.range.unwrap_or(0),
                });
            }
            // In bounds when `var + fixed + off + len <= var + range <=
            // length`: only with a proven range (an unproven pointer may
            // be past the end even for accesses below it).
            let end = p.fixed + off + len;
            if p.range.is_none_or(|r| end > r) {
                return Err(K::PacketUnchecked {
                    lo: p.fixed + off,
                    hi: end,
                    proven: p.range,
                });
            }
            Ok((lo, hi))
        }
        PtrKind::Stack(_) => {
            if lo < -STACK_SIZE || hi > 0 {
                return Err(K::OutOfBounds {
                    kind: p.kind,
                    lo,
                    hi,
                    size: STACK_SIZE,
                });
            }
            Ok((lo, hi))
        }
        kind => {
            let size = object_size(spec, kind);
            if lo < 0 || hi > size {
                return Err(K::OutOfBounds { kind, lo, hi, size });
            }
            Ok((lo, hi))
        }
    }
}

/// A load from the `packet` context: only whole fields, plain loads.
fn ctx_load(p: &Ptr, off: i64, size: usize, sx: bool) -> Result<Value, K> {
    let o = p.const_off().ok_or(K::ContextVariableOffset)? + off;
    use packet_ctx::*;
    Ok(match (o, size, sx) {
        (DATA, 8, false) => Value::Ptr(Ptr::new(PtrKind::Packet)),
        (DATA_END, 8, false) => Value::Ptr(Ptr::new(PtrKind::PacketEnd)),
        (LEN, 4, false) => Value::Scalar(Scalar::urange(0, MAX_PACKET_LEN)),
        (IFINDEX, 4, false) => Value::Scalar(Scalar::urange(0, u32::MAX as u64)),
        _ => return Err(K::ContextAccess { off: o, size }),
    })
}

/// Byte `b` (fp-relative) of a frame: (slot index, position in slot).
fn locate(b: i64) -> (usize, usize) {
    let i = ((-b - 1) / 8) as usize;
    let pos = (b + 8 * (i as i64 + 1)) as usize;
    (i, pos)
}

/// Checks that stack bytes `[lo, hi)` of `frame` are initialized and hold
/// no part of a spilled pointer; whether they are all known zero.
pub fn stack_readable(frame: &Frame, lo: i64, hi: i64) -> Result<bool, K> {
    let mut zero = true;
    for b in lo..hi {
        let (i, pos) = locate(b);
        match frame.slots.get(i).copied().unwrap_or(Slot::UNINIT) {
            Slot::Spill(Value::Ptr(_)) => return Err(K::PartialPointerRead),
            Slot::Spill(Value::Scalar(s)) => zero &= s.as_const() == Some(0),
            Slot::Spill(Value::Uninit) => return Err(K::UninitStack { off: b }),
            Slot::Bytes(bs) => match bs[pos] {
                Byte::Uninit => return Err(K::UninitStack { off: b }),
                Byte::Misc => zero = false,
                Byte::Zero => {}
            },
        }
    }
    Ok(zero)
}

fn stack_read(frame: &Frame, lo: i64, hi: i64, fixed: bool, sx: bool) -> Result<Value, K> {
    let size = (hi - lo) as usize;
    if fixed && lo % 8 == 0 {
        match frame.slot(lo) {
            Slot::Spill(v @ Value::Ptr(_)) if size == 8 => return Ok(v),
            Slot::Spill(Value::Scalar(s)) => {
                let v = if size == 8 {
                    s
                } else {
                    // The low bytes of a little-endian spill.
                    Scalar::alu(
                        crate::bpf::op::Width::W64,
                        crate::bpf::op::AluOp::And,
                        &s,
                        &Scalar::konst((1u64 << (8 * size)) - 1),
                    )
                };
                return Ok(Value::Scalar(if sx { sign_extend(v, size) } else { v }));
            }
            _ => {}
        }
    }
    if stack_readable(frame, lo, hi)? {
        return Ok(Value::Scalar(Scalar::konst(0)));
    }
    Ok(Value::Scalar(loaded(size, sx)))
}

/// Turns a spilled scalar covering byte `b` into plain bytes (before a
/// partial overwrite); refuses to touch a spilled pointer.
fn unspill(frame: &mut Frame, b: i64) -> Result<(), K> {
    let slot = frame.slot_mut(b);
    match *slot {
        Slot::Spill(Value::Ptr(_)) => Err(K::SpilledPointerCorrupted),
        Slot::Spill(Value::Scalar(s)) => {
            let byte = if s.as_const() == Some(0) {
                Byte::Zero
            } else {
                Byte::Misc
            };
            *slot = Slot::Bytes([byte; 8]);
            Ok(())
        }
        Slot::Spill(Value::Uninit) => {
            *slot = Slot::UNINIT;
            Ok(())
        }
        Slot::Bytes(_) => Ok(()),
    }
}

fn stack_write(frame: &mut Frame, lo: i64, hi: i64, fixed: bool, v: Value) -> Result<(), K> {
    let size = hi - lo;
    if fixed && size == 8 && lo % 8 == 0 {
        *frame.slot_mut(lo) = Slot::Spill(v);
        return Ok(());
    }
    if let Value::Ptr(_) = v {
        return Err(K::MisalignedPointerSpill);
    }
    let konst = match v {
        Value::Scalar(s) => s.as_const(),
        _ => None,
    };
    for b in lo..hi {
        unspill(frame, b)?;
        let (i, pos) = locate(b);
        let Slot::Bytes(bs) = &mut frame.slots[i] else {
            unreachable!("unspill leaves bytes")
        };
        bs[pos] = if !fixed {
            // Some byte in the range is written, which one is unknown.
            match bs[pos] {
                Byte::Uninit => Byte::Uninit,
                _ => Byte::Misc,
            }
        } else if konst.is_some_and(|c| (c >> (8 * (b - lo))) & 0xff == 0) {
            Byte::Zero
        } else {
            Byte::Misc
        };
    }
    Ok(())
}

/// Performs an access through `p` (the register's pointer) at `off` of
/// `size` bytes; returns the loaded value for reads (unknown for atomics).
pub fn access(
    spec: &ProgramSpec,
    st: &mut State,
    p: &Ptr,
    off: i64,
    size: usize,
    mode: Mode,
) -> Result<Value, K> {
    if p.kind == PtrKind::Ctx {
        return match mode {
            Mode::Read { sign_extend } => ctx_load(p, off, size, sign_extend),
            _ => Err(K::ReadOnly(PtrKind::Ctx)),
        };
    }
    let (lo, hi) = bounds(spec, p, off, size as i64)?;
    let writes = !matches!(mode, Mode::Read { .. });
    if writes {
        let read_only = match p.kind {
            PtrKind::Packet => true,
            PtrKind::Region(id) => !spec.regions.get(id as usize).is_some_and(|r| r.writable),
            _ => false,
        };
        if read_only {
            return Err(K::ReadOnly(p.kind));
        }
    }
    if mode == Mode::Atomic {
        let aligned = (p.fixed + off) % size as i64 == 0
            && p.var.t.value & (size as u64 - 1) == 0
            && p.var.t.mask & (size as u64 - 1) == 0;
        if !aligned {
            return Err(K::MisalignedAtomic);
        }
    }
    if let Mode::Write(Value::Ptr(q)) = mode {
        let PtrKind::Stack(f) = p.kind else {
            return Err(K::PointerLeak);
        };
        if let PtrKind::Stack(g) = q.kind
            && g > f
        {
            return Err(K::DanglingStackPointer);
        }
    }
    let fixed = p.var.as_const().is_some();
    match p.kind {
        PtrKind::Stack(f) => {
            let frame = &mut st.frames[f as usize];
            match mode {
                Mode::Read { sign_extend } => stack_read(frame, lo, hi, fixed, sign_extend),
                Mode::Write(v) => stack_write(frame, lo, hi, fixed, v).map(|_| Value::Uninit),
                Mode::Atomic => {
                    stack_readable(frame, lo, hi)?;
                    let v = Value::Scalar(loaded(size, false));
                    stack_write(frame, lo, hi, fixed, v)?;
                    Ok(v)
                }
            }
        }
        _ => Ok(match mode {
            Mode::Read { sign_extend } => Value::Scalar(loaded(size, sign_extend)),
            Mode::Write(_) => Value::Uninit,
            Mode::Atomic => Value::Scalar(loaded(size, false)),
        }),
    }
}

/// Checks that a helper may read `len` bytes at `p` (stack bytes must be
/// initialized and pointer-free).
pub fn helper_readable(spec: &ProgramSpec, st: &State, p: &Ptr, len: i64) -> Result<(), K> {
    if len == 0 {
        return Ok(());
    }
    match p.kind {
        PtrKind::Stack(f) => {
            let (lo, hi) = bounds(spec, p, 0, len)?;
            stack_readable(&st.frames[f as usize], lo, hi).map(|_| ())
        }
        PtrKind::Packet | PtrKind::Region(_) => bounds(spec, p, 0, len).map(|_| ()),
        _ => Err(K::HelperArg {
            arg: 1,
            expected: super::error::ArgKind::ReadableBuffer,
        }),
    }
}
