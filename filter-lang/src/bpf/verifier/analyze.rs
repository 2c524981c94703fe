//! The abstract interpretation: explores every path depth-first, one
//! instruction at a time over [`State`]s, checking every rule; prunes a path
//! when an already finished state at the same point covers it; and computes
//! a proven bound on the instructions any run executes.
//!
//! Bound: each stored state is a node of the exploration tree. A node's
//! bound is the largest number of instructions executed from it on any
//! explored path, where a pruned path continues with the bound of the node
//! that covers it (every concrete run from the pruned state is a run from the
//! covering state). A path that reaches a state *equal* to one of its own
//! ancestors at the same point could loop forever: rejected.

use super::cfg::Cfg;
use super::error::{ArgKind, VerifyErrorKind as K};
use super::mem::{self, Mode};
use super::scalar::{self, Scalar};
use super::sigs::{self, Ret};
use super::state::{Frame, MAX_PTR_OFF, Ptr, PtrKind, State, Value};
use super::{InsnFacts, mem_kind};
use crate::bpf::alu;
use crate::bpf::op::{AluOp, AtomicOp, JmpCond, Op, Operand, Reg, Size, Width};
use crate::bpf::spec::{ProgramSpec, ProgramType};
use alloc::vec;
use alloc::vec::Vec;

/// A rule violation at the current instruction, with the registers to show.
pub struct Fail {
    pub kind: K,
    pub regs: Vec<Reg>,
}

fn fail<T>(kind: K, regs: &[Reg]) -> Result<T, Fail> {
    Err(Fail {
        kind,
        regs: regs.to_vec(),
    })
}

trait Ctx<T> {
    fn regs(self, regs: &[Reg]) -> Result<T, Fail>;
}

impl<T> Ctx<T> for Result<T, K> {
    fn regs(self, regs: &[Reg]) -> Result<T, Fail> {
        self.map_err(|kind| Fail {
            kind,
            regs: regs.to_vec(),
        })
    }
}

enum Flow {
    Next(usize),
    /// Continue at `pc + 1` with the current state, and at `target` with
    /// `other`.
    Fork {
        target: usize,
        other: State,
    },
    Exit,
    /// No concrete execution takes this path.
    Dead,
}

const NO_PARENT: u32 = u32::MAX;

/// States kept for comparison at one instruction (older ones are dropped;
/// bounds the cost of each lookup).
const MAX_STATES_PER_PC: usize = 32;

struct Node {
    parent: u32,
    steps_from_parent: u64,
    pending: u32,
    bound: u64,
    done: bool,
}

struct Path {
    pc: usize,
    state: State,
    node: u32,
    steps: u64,
}

/// The analysis of one program.
pub struct Analysis<'a> {
    cfg: &'a Cfg,
    spec: &'a ProgramSpec,
    nodes: Vec<Node>,
    visited: Vec<Vec<(u32, State)>>,
    stored: usize,
    pub processed: usize,
    pub facts: Vec<InsnFacts>,
    /// Whether a division at this word has been analysed yet (its divisor
    /// facts are the conjunction over every visit).
    divisor_seen: Vec<bool>,
    pub max_frames: usize,
    /// Cells ([`State::cells`]) held in stored and pending states now.
    held_cells: usize,
    /// Most cells held at once.
    pub peak_cells: usize,
    /// Work done: one unit per instruction processed, per cell of every
    /// state compared, copied or scanned, per ancestor visited and per
    /// stack byte checked.
    pub work: u64,
}

enum Lookup {
    Covered(u64),
    Looping,
    New,
}

impl<'a> Analysis<'a> {
    pub fn new(cfg: &'a Cfg, spec: &'a ProgramSpec) -> Self {
        let n = cfg.ops.len();
        Analysis {
            cfg,
            spec,
            nodes: Vec::new(),
            visited: (0..n).map(|_| Vec::new()).collect(),
            stored: 0,
            processed: 0,
            facts: vec![InsnFacts::default(); n],
            divisor_seen: vec![false; n],
            max_frames: 1,
            held_cells: 0,
            peak_cells: 0,
            work: 0,
        }
    }

    /// Number of states stored for pruning.
    pub fn states(&self) -> usize {
        self.stored
    }

    fn initial_state(&self) -> State {
        let mut f = Frame::new(0, None);
        match self.spec.ty {
            ProgramType::Packet => f.regs[1] = Value::Ptr(Ptr::new(PtrKind::Ctx)),
            ProgramType::Memory { size: 0 } => {
                f.regs[1] = Value::Scalar(Scalar::konst(0));
                f.regs[2] = Value::Scalar(Scalar::konst(0));
            }
            ProgramType::Memory { size } => {
                f.regs[1] = Value::Ptr(Ptr::new(PtrKind::Buffer));
                f.regs[2] = Value::Scalar(Scalar::konst(size as u64));
            }
        }
        State {
            frames: vec![f],
            next_id: 0,
        }
    }

    /// Explores every path; returns the proven instruction bound, or the
    /// first violation (its pc, failure and the state there).
    pub fn run(&mut self) -> Result<u64, (usize, Fail, State)> {
        self.nodes.push(Node {
            parent: NO_PARENT,
            steps_from_parent: 0,
            pending: 1,
            bound: 0,
            done: false,
        });
        let mut work = vec![Path {
            pc: 0,
            state: self.initial_state(),
            node: 0,
            steps: 0,
        }];
        self.held_cells = work[0].state.cells();
        while let Some(mut p) = work.pop() {
            self.held_cells -= p.state.cells();
            loop {
                if self.cfg.prune[p.pc] {
                    let looked = self.lookup(&p);
                    if let Err(f) = self.check_budgets() {
                        return Err((p.pc, f, p.state));
                    }
                    match looked {
                        Lookup::Covered(rest) => {
                            self.finish(p.node, p.steps + rest);
                            break;
                        }
                        Lookup::Looping => {
                            let f = Fail {
                                kind: K::UnboundedLoop,
                                regs: Vec::new(),
                            };
                            return Err((p.pc, f, p.state));
                        }
                        Lookup::New => self
                            .checkpoint(&mut p)
                            .map_err(|f| (p.pc, f, p.state.clone()))?,
                    }
                }
                self.processed += 1;
                self.work += 1;
                if let Err(f) = self.check_budgets() {
                    return Err((p.pc, f, p.state));
                }
                // Rules are checked before the state changes, so on failure
                // the state still shows the registers as the instruction
                // found them.
                let flow = match self.step(p.pc, &mut p.state) {
                    Ok(f) => f,
                    Err(f) => return Err((p.pc, f, p.state)),
                };
                p.steps += 1;
                match flow {
                    Flow::Next(n) => p.pc = n,
                    Flow::Fork { target, other } => {
                        self.nodes[p.node as usize].pending += 1;
                        let cells = other.cells();
                        self.held_cells += cells;
                        self.peak_cells = self.peak_cells.max(self.held_cells);
                        self.work += cells as u64;
                        work.push(Path {
                            pc: target,
                            state: other,
                            node: p.node,
                            steps: p.steps,
                        });
                        p.pc += 1;
                    }
                    Flow::Exit | Flow::Dead => {
                        self.finish(p.node, p.steps);
                        break;
                    }
                }
            }
        }
        Ok(self.nodes[0].bound)
    }

    /// Whether `anc` is `n` or one of its ancestors, and the steps taken
    /// to find out.
    fn is_ancestor(&self, anc: u32, mut n: u32) -> (bool, u64) {
        let mut steps = 0;
        while n != NO_PARENT {
            steps += 1;
            if n == anc {
                return (true, steps);
            }
            n = self.nodes[n as usize].parent;
        }
        (false, steps)
    }

    /// Fails when the analysis has done more work than `max_work`,
    /// explored more instructions than `max_processed` or holds more cells
    /// than `max_state_cells` (so verification time and memory stay
    /// bounded whatever the program).
    fn check_budgets(&self) -> Result<(), Fail> {
        let l = &self.spec.limits;
        if self.processed > l.max_processed {
            return fail(
                K::TooComplex {
                    max: l.max_processed,
                },
                &[],
            );
        }
        if self.work > l.max_work {
            return fail(K::TooMuchWork { max: l.max_work }, &[]);
        }
        if self.held_cells > l.max_state_cells {
            return fail(
                K::StateMemory {
                    max_cells: l.max_state_cells,
                },
                &[],
            );
        }
        Ok(())
    }

    fn lookup(&mut self, p: &Path) -> Lookup {
        let live = |_: usize, pc: usize| self.cfg.live[pc];
        let mut work = 0u64;
        let mut found = Lookup::New;
        for (node, old) in &self.visited[p.pc] {
            work += old.cells() as u64;
            if !old.covers(&p.state, &live, p.pc) {
                continue;
            }
            let n = &self.nodes[*node as usize];
            if n.done {
                found = Lookup::Covered(n.bound);
                break;
            }
            let (ancestor, steps) = self.is_ancestor(*node, p.node);
            work += steps;
            if ancestor {
                work += old.cells() as u64;
                if p.state.covers(old, &live, p.pc) {
                    found = Lookup::Looping;
                    break;
                }
            }
        }
        self.work += work;
        found
    }

    fn checkpoint(&mut self, p: &mut Path) -> Result<(), Fail> {
        if self.stored >= self.spec.limits.max_states {
            return fail(
                K::TooManyStates {
                    max: self.spec.limits.max_states,
                },
                &[],
            );
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            parent: p.node,
            steps_from_parent: p.steps,
            pending: 1,
            bound: 0,
            done: false,
        });
        let list = &mut self.visited[p.pc];
        if list.len() >= MAX_STATES_PER_PC {
            // Forget the oldest state here: pruning is an optimization, and
            // the most recent states are the likeliest to match (loops).
            let (_, old) = list.remove(0);
            self.held_cells -= old.cells();
        }
        let cells = p.state.cells();
        list.push((id, p.state.clone()));
        self.stored += 1;
        self.held_cells += cells;
        self.peak_cells = self.peak_cells.max(self.held_cells);
        self.work += cells as u64;
        self.check_budgets()?;
        p.node = id;
        p.steps = 0;
        Ok(())
    }

    /// A path under `node` ended after `total` instructions (counted from
    /// the node's state).
    fn finish(&mut self, mut node: u32, total: u64) {
        let n = &mut self.nodes[node as usize];
        n.bound = n.bound.max(total);
        loop {
            let n = &mut self.nodes[node as usize];
            n.pending -= 1;
            if n.pending > 0 {
                return;
            }
            n.done = true;
            let (parent, up) = (n.parent, n.steps_from_parent + n.bound);
            if parent == NO_PARENT {
                return;
            }
            let p = &mut self.nodes[parent as usize];
            p.bound = p.bound.max(up);
            node = parent;
        }
    }

    fn step(&mut self, pc: usize, st: &mut State) -> Result<Flow, Fail> {
        let op = self.cfg.ops[pc].expect("the analysis only visits instruction starts");
        self.facts[pc].reachable = true;
        let next = pc + op.words();
        match op {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(pc, st, width, op, dst, src)?,
            Op::Neg { width, dst } => {
                let a = scalar_reg(st, dst)?;
                set(st, dst, Value::Scalar(Scalar::neg(width, &a)))?;
            }
            Op::End { kind, bits, dst } => {
                let a = scalar_reg(st, dst)?;
                set(st, dst, Value::Scalar(Scalar::end(kind, bits, &a)))?;
            }
            Op::LoadImm64 { dst, imm } => set(st, dst, Value::Scalar(Scalar::konst(imm)))?,
            Op::Load {
                size,
                sign_extend,
                dst,
                base,
                off,
            } => {
                let p = ptr_reg(st, base)?;
                self.note_mem(pc, p.kind);
                self.charge_access(&p, size.bytes() as u64);
                let v = mem::access(
                    self.spec,
                    st,
                    &p,
                    off as i64,
                    size.bytes(),
                    Mode::Read { sign_extend },
                )
                .regs(&[base])?;
                set(st, dst, v)?;
            }
            Op::Store {
                size,
                base,
                off,
                src,
            } => {
                let v = match src {
                    Operand::Reg(r) => init_reg(st, r)?,
                    Operand::Imm(i) => Value::Scalar(Scalar::konst(alu::imm(i))),
                };
                let p = ptr_reg(st, base)?;
                self.note_mem(pc, p.kind);
                self.charge_access(&p, size.bytes() as u64);
                let (regs, n) = involved(base, src);
                mem::access(self.spec, st, &p, off as i64, size.bytes(), Mode::Write(v))
                    .regs(&regs[..n])?;
            }
            Op::Atomic {
                size,
                op,
                base,
                off,
                src,
            } => self.atomic(pc, st, size, op, base, off, src)?,
            Op::LegacyPacketLoad { .. } => return fail(K::LegacyPacketAccess, &[]),
            Op::Ja { .. } => {
                let t = op.branch_target(pc).expect("ja has a target") as usize;
                return Ok(Flow::Next(t));
            }
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let t = op.branch_target(pc).expect("jumps have targets") as usize;
                return self.jump(pc, st, width, cond, dst, src, t);
            }
            Op::CallHelper { id } => self.call_helper(st, id)?,
            Op::CallReg { reg } => {
                let id = match st.reg(reg) {
                    Value::Scalar(s) => s
                        .as_const()
                        .and_then(|c| i32::try_from(c).ok())
                        .filter(|&c| sigs::signature(self.spec.ty, c).is_some()),
                    _ => None,
                };
                let Some(id) = id else {
                    return fail(K::CallxTarget(reg), &[reg]);
                };
                let fact = &mut self.facts[pc];
                if fact.callx_helper.is_some_and(|c| c != id) {
                    return fail(K::CallxTarget(reg), &[reg]);
                }
                fact.callx_helper = Some(id);
                self.call_helper(st, id)?;
            }
            Op::CallLocal { .. } => {
                let t = op.branch_target(pc).expect("calls have targets") as usize;
                // Frame numbers are 8-bit (`PtrKind::Stack(u8)`): never
                // more than 256 frames, whatever the configured limit.
                let max = self.spec.limits.max_call_frames.min(256);
                if st.frames.len() + 1 > max {
                    return fail(K::CallDepth { max }, &[]);
                }
                let mut f = Frame::new(st.depth() + 1, Some(next));
                f.regs[1..6].copy_from_slice(&st.cur().regs[1..6]);
                st.frames.push(f);
                self.max_frames = self.max_frames.max(st.frames.len());
                return Ok(Flow::Next(t));
            }
            Op::Exit => return self.exit(st),
        }
        Ok(Flow::Next(next))
    }

    fn note_mem(&mut self, pc: usize, kind: PtrKind) {
        self.facts[pc].mem |= mem_kind(kind);
    }

    /// Charges the work of checking `len` bytes at `p` (stack accesses scan
    /// every byte a variable offset may reach).
    fn charge_access(&mut self, p: &Ptr, len: u64) {
        if let PtrKind::Stack(_) = p.kind {
            let spread = p.var.smax.abs_diff(p.var.smin);
            self.work += spread.saturating_add(len).min(1 << 20);
        }
    }

    fn exit(&mut self, st: &mut State) -> Result<Flow, Fail> {
        let r0 = st.reg(Reg::R0);
        if r0 == Value::Uninit {
            return fail(K::R0Uninit, &[Reg::R0]);
        }
        if st.frames.len() > 1 {
            if let Value::Ptr(Ptr {
                kind: PtrKind::Stack(d),
                ..
            }) = r0
                && d == st.depth()
            {
                return fail(K::ReturnsStackPointer, &[Reg::R0]);
            }
            let f = st.frames.pop().expect("checked above");
            let caller = st.cur_mut();
            caller.regs[0] = r0;
            for r in 1..6 {
                caller.regs[r] = Value::Uninit;
            }
            return Ok(Flow::Next(
                f.ret_pc.expect("callee frames have return sites"),
            ));
        }
        match r0 {
            Value::Ptr(_) => fail(K::ReturnsPointer, &[Reg::R0]),
            Value::Scalar(s) if self.spec.ty == ProgramType::Packet && s.umax > 1 => {
                fail(K::BadVerdict, &[Reg::R0])
            }
            _ => Ok(Flow::Exit),
        }
    }

    fn alu(
        &mut self,
        pc: usize,
        st: &mut State,
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    ) -> Result<(), Fail> {
        let b = match src {
            Operand::Reg(r) => init_reg(st, r)?,
            Operand::Imm(i) => Value::Scalar(Scalar::konst(alu::imm(i))),
        };
        let (regs, n) = involved(dst, src);
        let regs = &regs[..n];
        if matches!(op, AluOp::Mov | AluOp::MovSx(_)) {
            let v = match b {
                Value::Ptr(_) if op == AluOp::Mov && width == Width::W64 => b,
                Value::Ptr(_) => return fail(K::PointerArithmetic(op_name(op, width)), regs),
                Value::Scalar(s) => Value::Scalar(Scalar::alu(width, op, &Scalar::konst(0), &s)),
                Value::Uninit => unreachable!("init_reg checked"),
            };
            return set(st, dst, v);
        }
        let a = init_reg(st, dst)?;
        if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod)
            && let Value::Scalar(s) = b
        {
            self.note_divisor(pc, width, &s);
        }
        let v = match (a, b) {
            (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(Scalar::alu(width, op, &x, &y)),
            (Value::Ptr(p), Value::Scalar(s)) if width == Width::W64 => match op {
                AluOp::Add => Value::Ptr(ptr_add(st, p, &s, false).regs(regs)?),
                AluOp::Sub => Value::Ptr(ptr_add(st, p, &s, true).regs(regs)?),
                _ => return fail(K::PointerArithmetic(op_name(op, width)), regs),
            },
            (Value::Scalar(s), Value::Ptr(p)) if width == Width::W64 && op == AluOp::Add => {
                Value::Ptr(ptr_add(st, p, &s, false).regs(regs)?)
            }
            (Value::Ptr(p), Value::Ptr(q)) if width == Width::W64 && op == AluOp::Sub => {
                let same = p.kind == q.kind
                    || matches!(
                        (p.kind, q.kind),
                        (PtrKind::PacketEnd, PtrKind::Packet)
                            | (PtrKind::Packet, PtrKind::PacketEnd)
                    );
                if !same {
                    return fail(
                        K::PointerArithmetic("sub of pointers to different objects"),
                        regs,
                    );
                }
                match (p.kind == q.kind, p.const_off(), q.const_off()) {
                    (true, Some(x), Some(y)) if p.id == q.id => {
                        Value::Scalar(Scalar::konst((x - y) as u64))
                    }
                    _ => Value::Scalar(Scalar::UNKNOWN),
                }
            }
            _ => return fail(K::PointerArithmetic(op_name(op, width)), regs),
        };
        set(st, dst, v)
    }

    fn note_divisor(&mut self, pc: usize, width: Width, s: &Scalar) {
        let s = if width == Width::W32 { s.low32() } else { *s };
        let all_ones = if width == Width::W32 {
            u32::MAX as u64
        } else {
            u64::MAX
        };
        let nonzero = s.umin > 0 || s.t.value != 0;
        let not_m1 = s.umax < all_ones || (s.t.value | s.t.mask) != all_ones;
        let f = &mut self.facts[pc];
        if !self.divisor_seen[pc] {
            self.divisor_seen[pc] = true;
            f.divisor_nonzero = nonzero;
            f.divisor_not_minus_one = not_m1;
        } else {
            f.divisor_nonzero &= nonzero;
            f.divisor_not_minus_one &= not_m1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn atomic(
        &mut self,
        pc: usize,
        st: &mut State,
        size: Size,
        op: AtomicOp,
        base: Reg,
        off: i16,
        src: Reg,
    ) -> Result<(), Fail> {
        let p = ptr_reg(st, base)?;
        match init_reg(st, src)? {
            Value::Scalar(_) => {}
            _ => return fail(K::PointerLeak, &[src]),
        }
        if op == AtomicOp::CmpXchg {
            match init_reg(st, Reg::R0)? {
                Value::Scalar(_) => {}
                _ => return fail(K::PointerLeak, &[Reg::R0]),
            }
        }
        self.note_mem(pc, p.kind);
        self.charge_access(&p, size.bytes() as u64);
        let old = mem::access(self.spec, st, &p, off as i64, size.bytes(), Mode::Atomic)
            .regs(&[base, src])?;
        match op {
            AtomicOp::CmpXchg => set(st, Reg::R0, old)?,
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => set(st, src, old)?,
            _ => {}
        }
        Ok(())
    }

    fn call_helper(&mut self, st: &mut State, id: i32) -> Result<(), Fail> {
        let Some(sig) = sigs::signature(self.spec.ty, id) else {
            return fail(K::UnknownHelper(id), &[]);
        };
        let mut region = 0u32;
        let mut buf: Option<Ptr> = None;
        for (i, &kind) in sig.args.iter().enumerate() {
            let arg = i as u8 + 1;
            let r = Reg::new(arg).expect("at most five arguments");
            let v = init_reg(st, r)?;
            let bad = || {
                fail(
                    K::HelperArg {
                        arg,
                        expected: kind,
                    },
                    &[r],
                )
            };
            let konst = match v {
                Value::Scalar(s) => s.as_const(),
                _ => None,
            };
            match kind {
                ArgKind::Scalar => {
                    if !matches!(v, Value::Scalar(_)) {
                        return bad();
                    }
                }
                ArgKind::CounterIndex => {
                    if konst.is_none_or(|c| c >= self.spec.counters as u64) {
                        return bad();
                    }
                }
                ArgKind::RegionId | ArgKind::WritableRegionId => {
                    let ok = konst
                        .and_then(|c| self.spec.regions.get(usize::try_from(c).ok()?))
                        .is_some_and(|r| r.writable || kind == ArgKind::RegionId);
                    if !ok {
                        return bad();
                    }
                    region = konst.unwrap_or(0) as u32;
                }
                ArgKind::ReadableBuffer => match v {
                    Value::Ptr(p) => buf = Some(p),
                    _ => return bad(),
                },
                ArgKind::Length => {
                    let Value::Scalar(len) = v else {
                        return bad();
                    };
                    if len.umin < sig.min_len {
                        return bad();
                    }
                    let need = sig.max_len.map_or(len.umax, |m| len.umax.min(m));
                    let p = buf.expect("a length follows its buffer");
                    let need = i64::try_from(need).unwrap_or(i64::MAX).min(1 << 32);
                    let prev = Reg::new(arg - 1).expect("buffer register");
                    self.charge_access(&p, need as u64);
                    mem::helper_readable(self.spec, st, &p, need).map_err(|k| {
                        let kind = match k {
                            K::HelperArg { .. } => K::HelperArg {
                                arg: arg - 1,
                                expected: ArgKind::ReadableBuffer,
                            },
                            k => k,
                        };
                        Fail {
                            kind,
                            regs: vec![prev, r],
                        }
                    })?;
                }
            }
        }
        let r0 = match sig.ret {
            Ret::Scalar(s) => Value::Scalar(s),
            Ret::RegionPtr => Value::Ptr(Ptr::new(PtrKind::Region(region))),
        };
        let f = st.cur_mut();
        f.regs[0] = r0;
        for r in 1..6 {
            f.regs[r] = Value::Uninit;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn jump(
        &mut self,
        pc: usize,
        st: &mut State,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        target: usize,
    ) -> Result<Flow, Fail> {
        let a = init_reg(st, dst)?;
        let b = match src {
            Operand::Reg(r) => init_reg(st, r)?,
            Operand::Imm(i) => Value::Scalar(Scalar::konst(alu::imm(i))),
        };
        let (regs, n) = involved(dst, src);
        let regs = &regs[..n];
        let (taken, fall) = match (a, b) {
            (Value::Scalar(x), Value::Scalar(y)) => {
                let r = |holds| match width {
                    Width::W64 => scalar::refine(cond, holds, &x, &y),
                    Width::W32 => scalar::refine32(cond, holds, &x, &y),
                };
                let apply = |s: &mut State, (na, nb): (Scalar, Scalar)| {
                    s.set(dst, Value::Scalar(na));
                    if let Operand::Reg(r) = src {
                        s.set(r, Value::Scalar(nb));
                    }
                };
                // Narrow in place; clone only when both edges are feasible.
                return Ok(match (r(true), r(false)) {
                    (Some(t), Some(f)) => {
                        let mut other = st.clone();
                        apply(&mut other, t);
                        apply(st, f);
                        Flow::Fork { target, other }
                    }
                    (Some(t), None) => {
                        apply(st, t);
                        Flow::Next(target)
                    }
                    (None, Some(f)) => {
                        apply(st, f);
                        Flow::Next(pc + 1)
                    }
                    (None, None) => Flow::Dead,
                });
            }
            (Value::Ptr(p), Value::Ptr(q)) if width == Width::W64 => {
                // Two copies of the state, and a pass over it for the range.
                self.work += 3 * st.cells() as u64;
                self.ptr_jump(st, cond, p, q).regs(regs)?
            }
            (Value::Ptr(_), Value::Scalar(s)) | (Value::Scalar(s), Value::Ptr(_))
                if width == Width::W64
                    && s.as_const() == Some(0)
                    && matches!(cond, JmpCond::Eq | JmpCond::Ne) =>
            {
                // Pointers are never null.
                if cond == JmpCond::Eq {
                    (None, Some(st.clone()))
                } else {
                    (Some(st.clone()), None)
                }
            }
            _ => return fail(K::PointerComparison, regs),
        };
        Ok(match (taken, fall) {
            (Some(t), Some(f)) => {
                *st = f;
                Flow::Fork { target, other: t }
            }
            (Some(t), None) => {
                *st = t;
                Flow::Next(target)
            }
            (None, Some(f)) => {
                *st = f;
                Flow::Next(pc + 1)
            }
            (None, None) => Flow::Dead,
        })
    }

    /// A comparison of two pointers: allowed within one object; packet
    /// pointers against `data_end` prove packet ranges.
    fn ptr_jump(
        &self,
        st: &State,
        cond: JmpCond,
        p: Ptr,
        q: Ptr,
    ) -> Result<(Option<State>, Option<State>), K> {
        use PtrKind::{Packet, PacketEnd};
        if cond == JmpCond::Set {
            // `p & q` exposes address bits.
            return Err(K::PointerComparison);
        }
        let (pkt, end_on_right) = match (p.kind, q.kind) {
            (Packet, PacketEnd) => (p, true),
            (PacketEnd, Packet) => (q, false),
            (a, b) if a == b || (a == Packet && b == Packet) => {
                return Ok((Some(st.clone()), Some(st.clone())));
            }
            _ => return Err(K::PointerComparison),
        };
        // Orient as `pkt OP end`.
        let op = if end_on_right {
            Some(cond)
        } else {
            match cond {
                JmpCond::Gt => Some(JmpCond::Lt),
                JmpCond::Ge => Some(JmpCond::Le),
                JmpCond::Lt => Some(JmpCond::Gt),
                JmpCond::Le => Some(JmpCond::Ge),
                JmpCond::Eq | JmpCond::Ne => Some(cond),
                _ => None,
            }
        };
        // Range proven on the edge where the condition holds / fails.
        let k = pkt.fixed;
        let (on_taken, on_fall) = match op {
            Some(JmpCond::Le) | Some(JmpCond::Eq) => (Some(k), None),
            Some(JmpCond::Lt) => (Some(k + 1), None),
            Some(JmpCond::Gt) | Some(JmpCond::Ne) => (None, Some(k)),
            Some(JmpCond::Ge) => (None, Some(k + 1)),
            _ => (None, None),
        };
        let with = |range: Option<i64>| {
            let mut s = st.clone();
            if let Some(r) = range {
                mark_packet_range(&mut s, pkt.id, r);
            }
            s
        };
        Ok((Some(with(on_taken)), Some(with(on_fall))))
    }
}

/// Records `var + range <= packet length` for every packet pointer with `id`
/// (keeping the larger proven range).
fn mark_packet_range(st: &mut State, id: u32, range: i64) {
    let range = range.min(crate::bpf::spec::packet_ctx::MAX_PACKET_LEN as i64);
    let bump = |v: &mut Value| {
        if let Value::Ptr(p) = v
            && p.kind == PtrKind::Packet
            && p.id == id
        {
            p.range = p.range.max(Some(range));
        }
    };
    for f in &mut st.frames {
        f.regs.iter_mut().for_each(bump);
        for s in &mut f.slots {
            if let super::state::Slot::Spill(v) = s {
                bump(v);
            }
        }
    }
}

/// `p + s` (or `p - s`).
fn ptr_add(st: &mut State, mut p: Ptr, s: &Scalar, sub: bool) -> Result<Ptr, K> {
    match p.kind {
        PtrKind::PacketEnd => return Err(K::PointerArithmetic("arithmetic on data_end")),
        PtrKind::Ctx if s.as_const().is_none() => return Err(K::ContextVariableOffset),
        _ => {}
    }
    if let Some(c) = s.as_const() {
        let c = c as i64;
        let fixed = if sub {
            p.fixed.checked_sub(c)
        } else {
            p.fixed.checked_add(c)
        };
        match fixed {
            Some(f) if f.abs() <= MAX_PTR_OFF => p.fixed = f,
            _ => return Err(K::PointerOverflow),
        }
        return Ok(p);
    }
    let (lo, hi) = if sub {
        (
            p.var.smin as i128 - s.smax as i128,
            p.var.smax as i128 - s.smin as i128,
        )
    } else {
        (
            p.var.smin as i128 + s.smin as i128,
            p.var.smax as i128 + s.smax as i128,
        )
    };
    let lim = MAX_PTR_OFF as i128;
    if lo < -lim || hi > lim {
        return Err(K::PointerOverflow);
    }
    let op = if sub { AluOp::Sub } else { AluOp::Add };
    p.var = Scalar::alu(Width::W64, op, &p.var, s);
    if p.kind == PtrKind::Packet {
        p.id = st.fresh_id();
        p.range = None;
    }
    Ok(p)
}

fn op_name(op: AluOp, width: Width) -> &'static str {
    match (op, width) {
        (AluOp::Mov, Width::W32) => "mov32",
        (AluOp::MovSx(_), _) => "movsx",
        (AluOp::Add, Width::W32) => "add32",
        (AluOp::Sub, Width::W32) => "sub32",
        (AluOp::Add, _) => "add",
        (AluOp::Sub, _) => "sub",
        (AluOp::Mul, _) => "mul",
        (AluOp::Div, _) => "div",
        (AluOp::SDiv, _) => "sdiv",
        (AluOp::Or, _) => "or",
        (AluOp::And, _) => "and",
        (AluOp::Lsh, _) => "lsh",
        (AluOp::Rsh, _) => "rsh",
        (AluOp::Mod, _) => "mod",
        (AluOp::SMod, _) => "smod",
        (AluOp::Xor, _) => "xor",
        (AluOp::Arsh, _) => "arsh",
        (AluOp::Mov, _) => "mov",
    }
}

/// The registers an instruction with `dst` and `src` involves.
fn involved(dst: Reg, src: Operand) -> ([Reg; 2], usize) {
    match src {
        Operand::Reg(r) => ([dst, r], 2),
        Operand::Imm(_) => ([dst, dst], 1),
    }
}

fn init_reg(st: &State, r: Reg) -> Result<Value, Fail> {
    match st.reg(r) {
        Value::Uninit => fail(K::UninitRegister(r), &[r]),
        v => Ok(v),
    }
}

fn scalar_reg(st: &State, r: Reg) -> Result<Scalar, Fail> {
    match init_reg(st, r)? {
        Value::Scalar(s) => Ok(s),
        _ => fail(K::PointerArithmetic("neg/byte swap"), &[r]),
    }
}

fn ptr_reg(st: &State, r: Reg) -> Result<Ptr, Fail> {
    match init_reg(st, r)? {
        Value::Ptr(p) => Ok(p),
        _ => fail(K::NotAPointer(r), &[r]),
    }
}

fn set(st: &mut State, r: Reg, v: Value) -> Result<(), Fail> {
    if r == Reg::FP {
        return fail(K::FramePointerWrite, &[]);
    }
    st.set(r, v);
    Ok(())
}
