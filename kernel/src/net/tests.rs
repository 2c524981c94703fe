//! In-QEMU tests of the network path. The kernel-tests scenario gives the
//! machine a virtio-net NIC on QEMU user networking (slirp: gateway
//! 10.0.2.2, guest 10.0.2.15) with the MAC [`XTASK_MAC`].

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use filter_lang::bpf::ash::RecordingEnv;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, verdict};
use filter_lang::filter::{Atom, FieldWidth, Filter};

use super::binding::{BindError, BindingSpec};
use super::demux::Demux;
use super::handler::{Handler, HandlerCode, HandlerError};
use super::hooks::KERNEL_OWNER;
use super::sink::KernelQueue;
use super::{arp, programs};
use crate::drivers::virtio::feature::VERSION_1;
use crate::drivers::virtio_net::features;

/// The MAC `cargo xtask` gives the guest NIC (`xtask/src/qemu.rs`).
const XTASK_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const GUEST_IP: arp::Ipv4 = [10, 0, 2, 15];
const GATEWAY_IP: arp::Ipv4 = [10, 0, 2, 2];

fn nic() -> Result<&'static crate::drivers::virtio_net::VirtioNet, String> {
    super::device().ok_or_else(|| {
        String::from("no virtio-net device came up (is the scenario's NIC missing?)")
    })
}

crate::kernel_test! {
    fn virtio_net_comes_up_with_its_mac_and_link() {
        let nic = nic()?;
        ensure_eq!(nic.mac(), XTASK_MAC);
        ensure!(super::link_up() && nic.link_up(), "link is down");
        let f = nic.features();
        ensure!(f & VERSION_1 != 0 && f & features::MAC != 0 && f & features::STATUS != 0, "features {f:#x}");
        ensure_eq!(nic.queue_sizes(), (256, 256));
        ensure!(!nic.needs_reset(), "the device reports NEEDS_RESET");
        Ok(())
    }
}

crate::kernel_test! {
    fn arp_request_to_the_gateway_is_answered() {
        let nic = nic()?;
        let queue = KernelQueue::new(8);
        let mut spec = BindingSpec::kernel("arp-test", vec![arp::reply_filter(GUEST_IP)?]);
        spec.sink = Some(Box::new(queue.clone()));
        let id = super::install(spec)?;
        let before = super::counters();
        super::transmit(&arp::request(nic.mac(), GUEST_IP, GATEWAY_IP))?;
        let deadline = crate::time::now_ns() + 2_000_000_000;
        while queue.is_empty() && crate::time::now_ns() < deadline {
            crate::irq::idle();
        }
        let got = queue.pop();
        let stats = super::with_binding(id, |b| b.stats);
        super::remove(id)?;
        let reply = got.ok_or("no ARP reply from 10.0.2.2 within 2 s")?;
        let (mac, ip) = arp::parse_reply(&reply.bytes).ok_or("the delivered frame is not an ARP reply")?;
        ensure_eq!(ip, GATEWAY_IP);
        ensure!(mac != [0; 6] && mac != nic.mac(), "gateway MAC {mac:x?}");
        ensure_eq!(&reply.bytes[0..6], &nic.mac()[..]);
        let after = super::counters();
        ensure!(after.tx_frames > before.tx_frames, "tx_frames did not move");
        ensure!(after.rx_frames > before.rx_frames && after.delivered > before.delivered, "rx counters did not move: {}", super::counters::Netstat(&after));
        ensure!(after.rx_interrupts > before.rx_interrupts, "no RX interrupt was taken");
        ensure!(reply.arrival_ns > 0, "no arrival time");
        ensure_eq!(stats.map(|s| s.delivered), Some(1));
        ensure!(super::list().iter().all(|b| b.id != id), "the binding is still listed");
        Ok(())
    }
}

fn cmp(off: u16, width: FieldWidth, value: u32) -> Atom {
    let mask = match width {
        FieldWidth::B1 => 0xFF,
        FieldWidth::B2 => 0xFFFF,
        FieldWidth::B4 => 0xFFFF_FFFF,
    };
    Atom::Cmp {
        off,
        width,
        mask,
        value,
    }
}

/// "IPv4 UDP to `port`" in atoms.
fn udp_port(port: u16) -> Filter {
    Filter::new(vec![
        cmp(12, FieldWidth::B2, 0x0800),
        cmp(23, FieldWidth::B1, 17),
        Atom::Shift {
            off: 14,
            width: FieldWidth::B1,
            mask: 0x0F,
            shift: 2,
        },
        cmp(16, FieldWidth::B2, u32::from(port)),
    ])
    .expect("valid filter")
}

/// An Ethernet/IPv4/UDP frame from 10.0.2.2:`sport` to 10.0.2.15:`dport`
/// with valid checksums.
fn udp_frame(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 42 + payload.len()];
    f[0..6].copy_from_slice(&XTASK_MAC);
    f[6..12].copy_from_slice(&[0x52, 0x55, 10, 0, 2, 2]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (20 + 8 + payload.len()) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&GATEWAY_IP);
    f[30..34].copy_from_slice(&GUEST_IP);
    let c = !csum(&f[14..34], 0);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[38..40].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f[42..].copy_from_slice(payload);
    f
}

/// Ones-complement sum (not inverted) of `b` plus `seed`.
fn csum(b: &[u8], seed: u32) -> u16 {
    let mut s = seed;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

crate::kernel_test! {
    fn compiled_classifier_agrees_with_the_reference_through_changes() {
        let mut d = Demux::new();
        let frames: Vec<Vec<u8>> = (0..40u16)
            .map(|p| udp_frame(1000, 7000 + p, b"x"))
            .chain([vec![0u8; 10], arp::request(XTASK_MAC, GUEST_IP, GATEWAY_IP)])
            .collect();
        let check = |d: &Demux| -> Result<(), String> {
            for (i, f) in frames.iter().enumerate() {
                let (jit, reference) = (d.classify_atoms(f), d.classify_reference(f));
                if jit != reference {
                    return Err(alloc::format!("frame {i}: compiled {jit:?}, reference {reference:?}"));
                }
            }
            Ok(())
        };
        let mut ids = Vec::new();
        for p in 0..32u16 {
            let spec = BindingSpec::kernel(&alloc::format!("port-{p}"), vec![udp_port(7000 + p)]);
            ids.push(d.install(spec)?);
            check(&d)?;
        }
        ensure!(d.stats.in_place_updates > 0, "no insertion was applied in place: {:?}", d.stats);
        ensure!(d.stats.recompiles > 0, "never compiled: {:?}", d.stats);
        ensure_eq!(d.classify_atoms(&frames[5]), Some(ids[5]));
        ensure_eq!(d.classify_atoms(&frames[35]), None);
        ensure_eq!(d.classify_atoms(&frames[40]), None);
        for id in ids.iter().step_by(3) {
            d.remove(*id)?;
            check(&d)?;
        }
        ensure_eq!(d.classify_atoms(&frames[3]), None);
        ensure_eq!(d.classify_atoms(&frames[4]), Some(ids[4]));
        ensure!(matches!(d.remove(ids[0]), Err(BindError::NoBinding(_))), "removed twice");
        Ok(())
    }
}

crate::kernel_test! {
    fn udp_echo_handler_replies_with_valid_checksums() {
        let obj = filter_lang::object::decode(programs::UDP_ECHO_OBJECT)?;
        let Some(filter_lang::object::HandlerCode::Bpf(words)) = &obj.handler else {
            return Err("the echo object has no BPF handler".into());
        };
        let mut h = Handler::load_bpf(words, &obj.spec())?;
        let payload: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let req = udp_frame(5555, 7, &payload);
        let mut env = RecordingEnv::default();
        ensure_eq!(h.run(&req, &mut env)?, verdict::CONSUMED);
        ensure_eq!(env.sent.len(), 1);
        let r = &env.sent[0];
        ensure_eq!(r.len(), req.len());
        ensure_eq!(&r[0..6], &req[6..12]);
        ensure_eq!(&r[6..12], &req[0..6]);
        ensure_eq!(&r[26..30], &req[30..34]);
        ensure_eq!(&r[30..34], &req[26..30]);
        ensure_eq!(&r[34..36], &req[36..38]);
        ensure_eq!(&r[36..38], &req[34..36]);
        ensure_eq!(&r[42..], &payload[..]);
        ensure_eq!(csum(&r[14..34], 0), 0xFFFF);
        let ulen = u32::from(u16::from_be_bytes([r[38], r[39]]));
        let pseudo = csum(&r[26..34], 17 + ulen);
        ensure_eq!(csum(&r[34..], u32::from(pseudo)), 0xFFFF);
        ensure_eq!(h.counters()[programs::UDP_ECHO_ECHOED], 1);
        // A UDP length beyond the frame goes to the owner, untouched.
        let mut lying = req.clone();
        lying[38..40].copy_from_slice(&2000u16.to_be_bytes());
        ensure_eq!(h.run(&lying, &mut env)?, verdict::DELIVER);
        ensure_eq!(env.sent.len(), 1);
        ensure!(h.code_bytes() > 0 && matches!(&h, Handler::Bpf(b) if b.insn_bound > 0), "no code or bound");
        Ok(())
    }
}

crate::kernel_test! {
    fn bad_objects_and_handlers_are_refused() {
        let garbage = super::install_object(KERNEL_OWNER, "garbage", b"\x7fEXO nonsense", None);
        ensure!(matches!(garbage, Err(BindError::Object(_))), "garbage object: {:?}", garbage.err());
        // r0 = *(u64 *)(r1 + 24): past the 24-byte context.
        let words = vec![
            filter_lang::bpf::Insn::new(0x79, 0, 1, 24, 0),
            filter_lang::bpf::Insn::new(0x95, 0, 0, 0, 0),
        ];
        let mut spec = BindingSpec::kernel("bad-handler", vec![udp_port(9)]);
        spec.handler = Some((HandlerCode::Bpf(words.clone()), ProgramSpec::new(ProgramType::Packet)));
        let r = super::install(spec);
        ensure!(matches!(r, Err(BindError::Handler(HandlerError::Verify(_)))), "out-of-bounds context load accepted: {:?}", r.err());
        let wrong = Handler::load_bpf(&words, &ProgramSpec::new(ProgramType::Memory { size: 8 }));
        ensure!(matches!(wrong, Err(HandlerError::WrongType(_))), "a memory program was accepted as a handler");
        let mut ghost = BindingSpec::kernel("ghost", vec![udp_port(9)]);
        ghost.owner = super::hooks::OwnerId(77);
        let other = super::install(ghost);
        ensure!(matches!(other, Err(BindError::OwnerGone(_))), "a binding for a missing owner was accepted");
        ensure!(super::list().iter().all(|b| b.name != "bad-handler" && b.name != "ghost"), "a refused binding is listed");
        Ok(())
    }
}

crate::kernel_test! {
    fn unclaimed_frames_go_to_the_default_receiver() {
        let nic = nic()?;
        let queue = KernelQueue::new(8);
        let mut spec = BindingSpec::kernel("default-test", Vec::new());
        spec.default = true;
        spec.sink = Some(Box::new(queue.clone()));
        // A handler that delivers every frame: it runs on unclaimed frames
        // before the sink, as for frames a filter takes.
        let deliver_all = vec![
            filter_lang::bpf::Insn::new(0xb7, 0, 0, 0, verdict::DELIVER as i32),
            filter_lang::bpf::Insn::new(0x95, 0, 0, 0, 0),
        ];
        spec.handler = Some((HandlerCode::Bpf(deliver_all), ProgramSpec::new(ProgramType::Packet)));
        let id = super::install(spec)?;
        let mut second = BindingSpec::kernel("second-default", Vec::new());
        second.default = true;
        second.sink = Some(Box::new(KernelQueue::new(1)));
        let taken = super::install(second);
        let before = super::counters();
        // No filter takes the gateway's ARP reply: it is unclaimed.
        super::transmit(&arp::request(nic.mac(), GUEST_IP, GATEWAY_IP))?;
        let deadline = crate::time::now_ns() + 2_000_000_000;
        let mut reply = None;
        while reply.is_none() && crate::time::now_ns() < deadline {
            crate::irq::idle();
            while let Some(f) = queue.pop() {
                if arp::parse_reply(&f.bytes).is_some() {
                    reply = Some(f);
                }
            }
        }
        let (matches, runs) = super::with_binding(id, |b| (b.stats.matches, b.stats.handler_runs)).unwrap_or_default();
        super::remove(id)?;
        ensure!(runs >= 1 && runs == matches, "the default receiver's handler ran {runs} times for {matches} frames");
        ensure!(matches!(taken, Err(BindError::DefaultTaken(d)) if d == id), "a second default receiver was accepted: {:?}", taken.err());
        ensure!(reply.is_some(), "the gateway's ARP reply did not reach the default receiver within 2 s");
        let after = super::counters();
        ensure_eq!(after.unclaimed, before.unclaimed);
        ensure!(after.delivered > before.delivered, "the delivery was not counted");
        Ok(())
    }
}

/// A pcap-filter expression the atoms cannot express, as filter program
/// words (what `exo-filter compile` puts in an object's FILTER_PROGRAM).
fn filter_program(expr: &str) -> Result<Vec<filter_lang::bpf::Insn>, String> {
    match filter_lang::pcap::compile(expr)
        .map_err(|e| alloc::format!("{expr}: {e:?}"))?
        .target
    {
        filter_lang::pcap::Target::Bytecode { ops, .. } => {
            Ok(filter_lang::pcap::bytecode::encode(&ops))
        }
        filter_lang::pcap::Target::Atoms(_) => Err(alloc::format!("{expr} compiled to atoms")),
    }
}

crate::kernel_test! {
    fn filter_programs_take_only_what_no_atom_filter_takes() {
        let mut d = Demux::new();
        let atoms = d.install(BindingSpec::kernel("port-7", vec![udp_port(7)]))?;
        let mut big = BindingSpec::kernel("big-udp", Vec::new());
        big.filter_program = Some(filter_program("udp and len > 100")?);
        let big = d.install(big)?;
        let mut any = BindingSpec::kernel("any-udp-len", Vec::new());
        any.filter_program = Some(filter_program("udp and len > 50")?);
        let any = d.install(any)?;
        let large = [0u8; 120];
        // Atoms first: port 7 stays the atom binding's, however large.
        ensure_eq!(d.classify(&udp_frame(1, 7, &large)), Some(atoms));
        // Elsewhere the first program (in install order) that says 1.
        ensure_eq!(d.classify(&udp_frame(1, 9, &large)), Some(big));
        ensure_eq!(d.classify(&udp_frame(1, 9, &[0u8; 30])), Some(any));
        ensure_eq!(d.classify(&udp_frame(1, 9, b"x")), None);
        // Removing a program hands its frames to the next; removing the
        // atom binding hands port 7 to the programs.
        d.remove(big)?;
        ensure_eq!(d.classify(&udp_frame(1, 9, &large)), Some(any));
        d.remove(atoms)?;
        ensure_eq!(d.classify(&udp_frame(1, 7, &large)), Some(any));
        // The transmit rule's program half: a reply whose mirror image no
        // atom filter takes and the owner's program takes.
        let reply = udp_frame(9, 1, &large);
        let owner = super::hooks::KERNEL_OWNER;
        ensure!(d.program_permits(owner, &super::tx::mirror(&reply)), "the program's own reply was refused");
        ensure!(!d.program_permits(super::hooks::OwnerId(4242), &super::tx::mirror(&reply)), "another owner may send under the program");
        let port9 = d.install(BindingSpec::kernel("port-9", vec![udp_port(9)]))?;
        ensure!(!d.program_permits(owner, &super::tx::mirror(&reply)), "a program may send what an atom binding claims");
        d.remove(port9)?;
        d.remove(any)?;
        ensure!(d.is_empty_of_programs(), "a removed program is still tried");
        Ok(())
    }
}

crate::kernel_test! {
    fn filter_programs_that_call_or_fail_verification_are_refused() {
        use filter_lang::bpf::Insn;
        let mut d = Demux::new();
        // r0 = ktime (helper call); exit.
        let mut calls = BindingSpec::kernel("calls", Vec::new());
        calls.filter_program = Some(vec![Insn::new(0x85, 0, 0, 0, 5), Insn::new(0x95, 0, 0, 0, 0)]);
        let r = d.install(calls);
        ensure!(matches!(r, Err(BindError::FilterProgramCalls { pc: 0 })), "a calling filter program: {:?}", r.err());
        // Reads the frame without a bounds check.
        let mut unchecked = BindingSpec::kernel("unchecked", Vec::new());
        unchecked.filter_program = Some(vec![
            Insn::new(0x79, 2, 1, 0, 0),
            Insn::new(0x71, 0, 2, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let r = d.install(unchecked);
        ensure!(matches!(r, Err(BindError::FilterProgram(HandlerError::Verify(_)))), "an unchecked read: {:?}", r.err());
        ensure!(d.bindings().next().is_none(), "a refused program left a binding");
        Ok(())
    }
}
