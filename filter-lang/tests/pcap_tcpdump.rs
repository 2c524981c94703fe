//! pcap-filter semantics against real tcpdump, on the generated captures.
//!
//! For every expression and capture, the number of packets tcpdump selects
//! (`tcpdump -r FILE -w OUT EXPR`, then OUT's records counted) must equal
//! the number `exo-filter match` counts, and per packet the reference
//! evaluation of the graph, the compiled atoms (when the expression has an
//! atom form) and the compiled bytecode run by the interpreter must agree.
//! tcpdump must be installed (Debian package `tcpdump`); without it this
//! test fails rather than passing vacuously.

mod pcap_support;

use filter_lang::bpf::interp::Interpreter;
use filter_lang::pcap::{Target, bytecode, compile};
use pcap_support::{CAPTURES, Packet, captures_dir, read};
use std::path::Path;
use std::process::Command;

/// Every supported construct, alone and combined. Comments name what each
/// group exercises.
const EXPRESSIONS: &[&str] = &[
    // Link layer.
    "ether proto 0x800",
    "ether proto 0x88cc",
    "ether proto \\arp",
    "ether host 01:02:03:04:05:06",
    "ether src 02:00:00:00:00:0a",
    "ether dst 01:02:03:04:05:06",
    "ether dst ff:ff:ff:ff:ff:ff",
    "ether broadcast",
    "ether multicast",
    "broadcast",
    // Protocols.
    "arp",
    "rarp",
    "ip",
    "ip6",
    "udp",
    "tcp",
    "sctp",
    "icmp",
    "icmp6",
    "igmp",
    "ip proto 17",
    "ip6 proto 17",
    "proto 17",
    "ip proto \\tcp",
    "ip6 proto 58",
    // Hosts and nets.
    "host 10.0.0.1",
    "host 1.2.3.4",
    "src host 10.0.0.1",
    "dst host 5.6.7.8",
    "ip host 1.2.3.4",
    "arp host 1.2.3.4",
    "rarp host 5.6.7.8",
    "src and dst host 10.0.0.1",
    "net 10.0.0.0/8",
    "net 10",
    "net 192.168",
    "dst net 192.168.0.0 mask 255.255.0.0",
    "src net 10.1.0.0/16",
    "src or dst net 1.2.0.0/16",
    "host fe80::1",
    "ip6 host 2001::100",
    "ip6 src net fe80::/10",
    "ip6 dst net ff02::/16",
    "net 2001::/16",
    // Ports.
    "port 53",
    "port 80",
    "udp port 53",
    "tcp port 80",
    "sctp port 443",
    "src port 53",
    "dst port 80",
    "udp dst port 53",
    "tcp src port 443",
    "portrange 1000-2000",
    "portrange 2000-1000",
    "udp portrange 1-1024",
    "tcp dst portrange 400-500",
    "src or dst port 7",
    "src and dst port 53",
    "port 80 or 443",
    "tcp dst port 7 or 999 or 65535",
    // Accessors and relations.
    "ip[9] == 17",
    "ip[9] = 6",
    "ip[9] != 17",
    "udp[0:2] == 7",
    "udp[2:2] = 53",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn|tcp-ack",
    "tcp[13] & 2 = 2",
    "tcp[tcpflags] & tcp-rst != 0",
    "tcp[0:2] > 1000",
    "tcp[0:2] <= 443",
    "icmp[icmptype] == icmp-echo",
    "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
    "icmp6[icmp6type] == icmp6-echo",
    "ip[0] & 0xf > 5",
    "ip[0] & 0xf != 5",
    "ip[6:2] & 0x1fff != 0",
    "ip[2:2] > 40",
    "ip[2:2] < 40",
    "ip[2:2] >= 0x40",
    "ip6[6] == 17",
    "ip6[40] == 0",
    "arp[7] == 2",
    "ether[0] & 1 != 0",
    "ether[12:2] == 0x86dd",
    "ether[0:4] == 0xffffffff",
    "1 = ip[9]",
    "100 < ip[2:2]",
    // Arithmetic, len, variable offsets: bytecode.
    "ip[2:2] - 20 > 8",
    "tcp[12] / 4 > 5",
    "ip[0] * 2 + 1 > 100",
    "ip[9] ^ 1 = 16",
    "ip[0] << 1 == 0x8a",
    "(ip[0] & 0xf) << 2 == 20",
    "ip[2:2] % 7 == 3",
    "ip[ip[0] & 0xf] == 1",
    "udp[udp[4:2] - 2] != 0",
    "len > 100",
    "len <= 60",
    "len - 14 > 40",
    "greater 100",
    "less 64",
    // Boolean structure.
    "udp and port 53",
    "udp or arp",
    "tcp or udp or icmp",
    "ip and not udp",
    "not ip",
    "not udp",
    "not port 53",
    "! tcp",
    "ip && udp",
    "arp || rarp",
    "(tcp or udp) and port 80",
    "tcp or udp and port 80",
    "not (tcp or udp)",
    "not tcp and not udp",
    "host 10.0.0.1 and not host 1.2.3.4 or 9.9.9.9",
    "udp or ether src 02:00:00:00:00:0a",
    "ip[9] == 17 or ether[0] == 1",
    "tcp[13] & 2 != 0 or udp[0:2] == 53",
    "ip and (ip[9] == 6 or ip[9] == 17) and not src net 10.0.0.0/8",
    "(udp and dst port 53) or (tcp and (tcp[tcpflags] & tcp-syn) != 0)",
    "ether multicast and not arp",
    "ip6 and not icmp6",
    "len > 60 and udp",
    "not len > 60 or tcp",
];

fn tcpdump_count(file: &Path, expr: &str) -> usize {
    let out = std::env::temp_dir().join(format!(
        "exo-pcap-test-{}-{}.pcap",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_")
    ));
    let status = Command::new("tcpdump")
        .arg("-r")
        .arg(file)
        .arg("-w")
        .arg(&out)
        .arg(expr)
        .output();
    let status = match status {
        Ok(s) => s,
        Err(e) => panic!(
            "cannot run tcpdump ({e}): install it (Debian: apt-get install tcpdump); \
             `cargo xtask test` installs it on fresh machines"
        ),
    };
    assert!(
        status.status.success(),
        "tcpdump rejected `{expr}`: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let n = read(&out).len();
    let _ = std::fs::remove_file(&out);
    n
}

struct Engines {
    compiled: filter_lang::pcap::Compiled,
    interp: Interpreter,
}

fn engines(expr: &str) -> Engines {
    let compiled = compile(expr).unwrap_or_else(|e| panic!("{}", e.render(expr)));
    let ops = bytecode::emit(&compiled.cfg).expect("bytecode");
    let interp = Interpreter::new(&bytecode::encode(&ops)).expect("decodes");
    Engines { compiled, interp }
}

/// The count `exo-filter match` reports, with every engine cross-checked.
fn count(e: &Engines, expr: &str, packets: &[Packet]) -> usize {
    let mut n = 0;
    for (i, p) in packets.iter().enumerate() {
        let reference = e.compiled.cfg.eval(&p.data, p.wirelen);
        let bc = bytecode::run(&e.interp, &p.data, p.wirelen)
            .unwrap_or_else(|err| panic!("`{expr}` packet {i}: bytecode fault {err}"));
        assert_eq!(bc, reference, "`{expr}` packet {i}: bytecode vs graph");
        if let Some(a) = e.compiled.atoms_match(&p.data) {
            assert_eq!(
                a, reference,
                "`{expr}` packet {i}: atoms vs graph ({:02x?})",
                p.data
            );
        }
        n += reference as usize;
    }
    n
}

#[test]
fn match_counts_equal_tcpdump() {
    let captures: Vec<(String, Vec<Packet>)> = CAPTURES
        .iter()
        .map(|c| (c.to_string(), read(&captures_dir().join(c))))
        .collect();
    let mut failures = Vec::new();
    let mut atom_exprs = 0;
    for expr in EXPRESSIONS {
        let e = engines(expr);
        if matches!(e.compiled.target, Target::Atoms(_)) {
            atom_exprs += 1;
        }
        for (name, packets) in &captures {
            let ours = count(&e, expr, packets);
            let theirs = tcpdump_count(&captures_dir().join(name), expr);
            if ours != theirs {
                failures.push(format!("{name}: `{expr}`: exo {ours}, tcpdump {theirs}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "disagreements with tcpdump:\n{}",
        failures.join("\n")
    );
    // The atom path must be the common one.
    assert!(
        atom_exprs > EXPRESSIONS.len() / 2,
        "only {atom_exprs} expressions compiled to atoms"
    );
}

#[test]
fn captures_select_something_for_most_expressions() {
    // Guards against captures that make the comparison vacuous.
    let packets = read(&captures_dir().join("mixed.pcap"));
    let mut zero = Vec::new();
    for expr in EXPRESSIONS {
        let e = engines(expr);
        let n = count(&e, expr, &packets);
        if n == 0 || n == packets.len() {
            zero.push(*expr);
        }
    }
    assert!(
        zero.len() < 10,
        "expressions selecting none or all of mixed.pcap: {zero:?}"
    );
}

#[test]
fn every_expression_compiles_to_bytecode_the_verifier_accepts() {
    use filter_lang::bpf::Program;
    use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
    use filter_lang::bpf::verifier::verify;
    for expr in EXPRESSIONS {
        let c = compile(expr).unwrap();
        let ops = match &c.target {
            Target::Bytecode { ops, .. } => ops.clone(),
            Target::Atoms(_) => bytecode::emit(&c.cfg).unwrap(),
        };
        let prog = Program::from_words(bytecode::encode(&ops));
        if let Err(e) = verify(&prog, &ProgramSpec::new(ProgramType::Packet)) {
            panic!("`{expr}`: verifier rejected the bytecode: {e}");
        }
    }
}
