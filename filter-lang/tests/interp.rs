//! Interpreter behaviour beyond the conformance vectors: frames and calls,
//! atomics, the budget, the observer, faults, and the ASH helpers.

use filter_lang::bpf::ash::{self, RecordingEnv, SendError};
use filter_lang::bpf::helpers::{ConformanceHelpers, HelperFault};
use filter_lang::bpf::interp::{
    Access, Interpreter, Observer, RegionKind, RunErrorKind, RunOptions, buffer_memory, layout,
    packet_memory, run_packet,
};
use filter_lang::bpf::{AluOp, AtomicOp, Insn, JmpCond, Op, Operand, Reg, Size, Width};

fn words(ops: &[Op]) -> Vec<Insn> {
    ops.iter()
        .flat_map(|op| {
            let (w, n) = op.encode();
            w[..n].to_vec()
        })
        .collect()
}

fn mov(dst: Reg, v: i32) -> Op {
    Op::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(v),
    }
}

fn movr(dst: Reg, src: Reg) -> Op {
    Op::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Reg(src),
    }
}

fn add(dst: Reg, v: i32) -> Op {
    Op::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Imm(v),
    }
}

fn run_mem(ops: &[Op], buf: &mut [u8]) -> Result<(u64, u64), RunErrorKind> {
    let interp = Interpreter::new(&words(ops)).expect("decodes");
    let (mut mem, args) = buffer_memory(buf);
    interp
        .run(
            &mut mem,
            &mut ConformanceHelpers,
            args,
            RunOptions::default(),
        )
        .map(|o| (o.r0, o.executed))
        .map_err(|e| e.kind)
}

#[test]
fn local_calls_get_their_own_frame_and_preserve_r6_to_r9() {
    let ops = [
        mov(Reg::R6, 66),
        Op::Store {
            size: Size::DW,
            base: Reg::FP,
            off: -8,
            src: Operand::Imm(7),
        },
        Op::CallLocal { off: 4 },
        // r0 = callee's r0 + caller's [fp-8] + r6
        Op::Load {
            size: Size::DW,
            sign_extend: false,
            dst: Reg::R1,
            base: Reg::FP,
            off: -8,
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R1),
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R6),
        },
        Op::Exit,
        // callee: writes its own [fp-8] and clobbers r6.
        Op::Store {
            size: Size::DW,
            base: Reg::FP,
            off: -8,
            src: Operand::Imm(1000),
        },
        mov(Reg::R6, 0),
        mov(Reg::R0, 100),
        Op::Exit,
    ];
    let (r0, executed) = run_mem(&ops, &mut []).unwrap();
    assert_eq!(r0, 100 + 7 + 66);
    assert_eq!(executed, 11);
}
#[test]
fn call_depth_is_limited() {
    // A function that calls itself forever.
    let ops = [Op::CallLocal { off: -1 }, Op::Exit];
    assert_eq!(
        run_mem(&ops, &mut []),
        Err(RunErrorKind::CallDepth { max_frames: 8 })
    );
}

#[test]
fn atomics_and_their_fetch_results() {
    let ops = [
        movr(Reg::R2, Reg::R1),
        mov(Reg::R3, 5),
        Op::Atomic {
            size: Size::W,
            op: AtomicOp::Add { fetch: true },
            base: Reg::R2,
            off: 0,
            src: Reg::R3,
        },
        // r3 = old (0xffff_fffe), memory = 3 (32-bit wrap, upper word untouched)
        mov(Reg::R0, 3),
        mov(Reg::R4, 9),
        Op::Atomic {
            size: Size::W,
            op: AtomicOp::CmpXchg,
            base: Reg::R2,
            off: 0,
            src: Reg::R4,
        },
        // r0 = old = 3 (equal, so memory = 9)
        Op::Load {
            size: Size::DW,
            sign_extend: false,
            dst: Reg::R5,
            base: Reg::R2,
            off: 0,
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R5),
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R3),
        },
        Op::Exit,
    ];
    let mut buf = [0xfe, 0xff, 0xff, 0xff, 1, 0, 0, 0];
    let (r0, _) = run_mem(&ops, &mut buf).unwrap();
    assert_eq!(buf, [9, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(r0, 3 + 0x1_0000_0009 + 0xffff_fffe);
}

#[test]
fn budget_stops_an_infinite_loop_and_faults_are_reported() {
    let interp = Interpreter::new(&words(&[Op::Ja {
        off: -1,
        long: false,
    }]))
    .unwrap();
    let (mut mem, args) = buffer_memory(&mut []);
    let e = interp
        .run(
            &mut mem,
            &mut ConformanceHelpers,
            args,
            RunOptions {
                budget: Some(1000),
                ..RunOptions::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind, RunErrorKind::BudgetExhausted { budget: 1000 });
    assert_eq!(e.executed, 1000);

    // A load one byte past the buffer faults.
    let ops = [
        Op::Load {
            size: Size::H,
            sign_extend: false,
            dst: Reg::R0,
            base: Reg::R1,
            off: 3,
        },
        Op::Exit,
    ];
    let mut buf = [0u8; 4];
    match run_mem(&ops, &mut buf) {
        Err(RunErrorKind::Memory(f)) => {
            assert_eq!(f.addr, layout::BUFFER_BASE + 3);
            assert!(!f.write);
        }
        other => panic!("expected a memory fault, got {other:?}"),
    }
    // Falling off the end is an error, not a panic.
    assert_eq!(
        run_mem(&[mov(Reg::R0, 1)], &mut []),
        Err(RunErrorKind::FellOffEnd)
    );
    // The unwind helper stops the program.
    let ops = [
        mov(Reg::R1, 0),
        Op::CallHelper { id: 5 },
        mov(Reg::R0, 9),
        Op::Exit,
    ];
    assert_eq!(run_mem(&ops, &mut []), Ok((0, 2)));
    let ops = [Op::CallHelper { id: 77 }, Op::Exit];
    assert_eq!(
        run_mem(&ops, &mut []),
        Err(RunErrorKind::Helper(HelperFault::UnknownHelper(77)))
    );
}

#[derive(Default)]
struct Log(Vec<Access>);

impl Observer for Log {
    fn on_access(&mut self, a: &Access) {
        self.0.push(*a);
    }
}

/// A handler that reads the context, copies 4 packet bytes to region 0 with
/// a checksum, bumps counter 1, sends 2 stack bytes, wakes the owner and
/// delivers.
fn ash_program() -> Vec<Insn> {
    use ash::id;
    let ops = [
        movr(Reg::R6, Reg::R1),
        // counter_add(1, 5)
        mov(Reg::R1, 1),
        mov(Reg::R2, 5),
        Op::CallHelper {
            id: id::COUNTER_ADD,
        },
        // copy_to_region_csum(0, 2, 1, 4, 0)
        mov(Reg::R1, 0),
        mov(Reg::R2, 2),
        mov(Reg::R3, 1),
        mov(Reg::R4, 4),
        mov(Reg::R5, 0),
        Op::CallHelper {
            id: id::COPY_TO_REGION_CSUM,
        },
        movr(Reg::R7, Reg::R0),
        // send_frame(fp-2, 2) with bytes 0xab 0xcd
        Op::Store {
            size: Size::H,
            base: Reg::FP,
            off: -2,
            src: Operand::Imm(0xcdab),
        },
        movr(Reg::R1, Reg::FP),
        add(Reg::R1, -2),
        mov(Reg::R2, 2),
        Op::CallHelper { id: id::SEND_FRAME },
        Op::CallHelper { id: id::WAKE_OWNER },
        // r0 = 1 if ctx.len == 6
        Op::Load {
            size: Size::W,
            sign_extend: false,
            dst: Reg::R2,
            base: Reg::R6,
            off: 16,
        },
        mov(Reg::R0, 0),
        Op::Jmp {
            width: Width::W64,
            cond: JmpCond::Ne,
            dst: Reg::R2,
            src: Operand::Imm(6),
            off: 1,
        },
        mov(Reg::R0, 1),
        Op::Exit,
    ];
    words(&ops)
}

#[test]
fn ash_helpers_copy_checksum_count_send_and_wake() {
    let interp = Interpreter::new(&ash_program()).unwrap();
    let packet = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60];
    let mut region = [0u8; 8];
    let mut setup = packet_memory(&packet, 3, vec![(&mut region[..], true)]);
    let mut counters = [0u64, 10];
    let mut env = RecordingEnv::default();
    let mut log = Log::default();
    let out = run_packet(
        &interp,
        &mut setup,
        &mut counters,
        &mut env,
        RunOptions {
            observer: Some(&mut log),
            ..RunOptions::default()
        },
    )
    .unwrap();
    drop(setup);
    assert_eq!(out.r0, 1);
    assert_eq!(region, [0, 0, 0x20, 0x30, 0x40, 0x50, 0, 0]);
    assert_eq!(counters, [0, 15]);
    assert_eq!(env.sent, vec![vec![0xab, 0xcd]]);
    assert_eq!(env.wakeups, 1);
    // Every access fell inside a region; helper accesses are marked.
    assert!(log.0.iter().all(|a| a.region.is_some()));
    assert!(
        log.0
            .iter()
            .any(|a| a.by_helper && a.write && a.region == Some(RegionKind::App(0)) && a.len == 4)
    );
    assert!(
        log.0
            .iter()
            .any(|a| !a.by_helper && a.region == Some(RegionKind::Context))
    );
}

#[test]
fn ash_helpers_return_documented_errors() {
    use ash::{err, id};
    let call = |id_: i32, args: [i32; 5]| {
        let mut ops: Vec<Op> = args
            .iter()
            .enumerate()
            .map(|(i, &v)| mov(Reg::new(i as u8 + 1).unwrap(), v))
            .collect();
        ops.push(Op::CallHelper { id: id_ });
        ops.push(Op::Exit);
        let interp = Interpreter::new(&words(&ops)).unwrap();
        let packet = [1u8, 2, 3, 4];
        let mut rw = [0u8; 4];
        let mut ro = [0u8; 4];
        let mut setup = packet_memory(&packet, 0, vec![(&mut rw[..], true), (&mut ro[..], false)]);
        let mut env = RecordingEnv {
            fail_sends: Some(SendError::QueueFull),
            ..RecordingEnv::default()
        };
        run_packet(
            &interp,
            &mut setup,
            &mut [0],
            &mut env,
            RunOptions::default(),
        )
        .map(|o| o.r0 as i64)
    };
    assert_eq!(
        call(id::COPY_TO_REGION, [0, 0, 2, 3, 0]),
        Ok(err::PACKET_RANGE)
    );
    assert_eq!(
        call(id::COPY_TO_REGION, [0, 2, 0, 3, 0]),
        Ok(err::REGION_RANGE)
    );
    assert_eq!(
        call(id::COPY_TO_REGION, [1, 0, 0, 1, 0]),
        Ok(err::BAD_REGION)
    );
    assert_eq!(
        call(id::COPY_TO_REGION, [2, 0, 0, 1, 0]),
        Ok(err::BAD_REGION)
    );
    assert_eq!(call(id::COPY_TO_REGION, [0, 0, 0, 4, 0]), Ok(4));
    assert_eq!(call(id::COPY_TO_REGION_CSUM, [0, 0, 0, 4, 0]), Ok(0x0406));
    assert_eq!(
        call(id::COPY_TO_REGION_CSUM, [0, 0, 0, 3, 0xff]),
        Ok(0x0501)
    );
    assert_eq!(call(id::SEND_FRAME, [0, 0, 0, 0, 0]), Ok(err::BAD_LENGTH));
    assert_eq!(call(id::WAKE_OWNER, [0; 5]), Ok(0));
    assert_eq!(call(id::KTIME_NS, [0; 5]), Ok(1));
    // A helper given a wild buffer pointer faults instead of reading it.
    match call(id::CHECKSUM, [0x100, 4, 0, 0, 0]) {
        Err(e) => assert!(matches!(
            e.kind,
            RunErrorKind::Helper(HelperFault::Memory(_))
        )),
        other => panic!("expected a fault, got {other:?}"),
    }
    assert!(matches!(
        call(id::COUNTER_ADD, [1, 1, 0, 0, 0]),
        Err(e) if e.kind == RunErrorKind::Helper(HelperFault::BadArgument { id: id::COUNTER_ADD, arg: 1 })
    ));
}
