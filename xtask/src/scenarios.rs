//! The QEMU scenarios `cargo xtask test` runs. To add one, append a
//! `Scenario` here (kernel image + command line + NIC + optional host driver
//! + expectation).

use std::time::Duration;

use crate::net_backend;
use crate::net_drivers::{MalformedBurst, UdpEcho, time_seed};
use crate::net_env_driver::NetEnvTests;
use crate::qemu::{GuestExit, Net, Proto};
use crate::scenario::{Expect, HostDriver, ICOUNT, Image, Scenario};
use crate::session::SerialLog;

/// Address the kernel's page-fault test writes to
/// (`kernel/src/ktest/crash.rs` `PAGE_FAULT_ADDRESS`).
const PAGE_FAULT_ADDRESS: u64 = 0xdead_b000;

/// What the boot banner must show.
fn banner_lines() -> Vec<&'static str> {
    vec![
        "memory map:",
        " usable",
        "memory: ",
        "timer: local APIC",
        " MHz, tick ",
        "user program 'init'",
        "exo: boot complete",
    ]
}

fn crash(name: &'static str, kind: &str, expect: Expect) -> Scenario {
    Scenario {
        name,
        image: Image::TestKernel,
        cmdline: format!("ktest.crash={kind}"),
        net: Net::None,
        driver: None,
        expect,
        timeout: Duration::from_secs(60),
        qemu_args: Vec::new(),
        prefer_tap: false,
    }
}

/// A currently free host port on 127.0.0.1 (for host forwards; several
/// test runs may share the machine).
fn free_port(proto: Proto) -> u16 {
    let port = match proto {
        Proto::Tcp => std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()),
        Proto::Udp => std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()),
    };
    port.map(|a| a.port()).unwrap_or(47_007)
}

/// Host driver of `net-user`: waits until the guest reports the virtio-net
/// function that the user-mode NIC setup attached.
struct SeesVirtioNet;

impl HostDriver for SeesVirtioNet {
    fn run(&mut self, serial: &SerialLog, net: &Net) -> Result<(), String> {
        if !matches!(net, Net::User { forwards } if !forwards.is_empty()) {
            return Err(format!("expected a user NIC with forwards, got {net:?}"));
        }
        serial
            .wait_for("(virtio-net)", Duration::from_secs(60))
            .map(|_| ())
            .ok_or_else(|| "the guest never listed a virtio-net PCI function".to_string())
    }
}

/// Datagrams the UDP echo scenario sends.
const ECHO_DATAGRAMS: u64 = 40;
/// Frames the malformed-burst scenario sends.
const BURST_FRAMES: usize = 400;

/// UDP echo answered entirely by the kernel's ASH (`examples/udp_echo.exo`):
/// the host sends datagrams to a forwarded port and checks every echo and
/// the kernel's counters.
fn net_udp_echo() -> Scenario {
    Scenario {
        name: "net-udp-echo",
        image: Image::Kernel,
        cmdline: format!(
            "net.echo net.ip=10.0.2.15 net.gateway=10.0.2.2 net.report=matched:{ECHO_DATAGRAMS}"
        ),
        net: Net::User {
            forwards: vec![(Proto::Udp, free_port(Proto::Udp), 7)],
        },
        driver: Some(Box::new(UdpEcho {
            count: ECHO_DATAGRAMS,
            seed: time_seed(),
        })),
        expect: Expect::Banner {
            lines: vec![
                "net: UDP echo ASH installed",
                "NETSTAT ",
                "NETBIND ",
                "NETLAT ",
            ],
            stop_at: None,
        },
        timeout: Duration::from_secs(90),
        qemu_args: Vec::new(),
        prefer_tap: false,
    }
}

/// Spawn argument of `netprobe` as the bystander
/// (`exo_abi::netprobe::Mode::Bystander`, parameter 0).
const BYSTANDER_ARG: u64 = 8;

/// Random, truncated, malformed and oversized frames injected through
/// QEMU's socket backend while an environment runs with a receive ring
/// bound (the `netprobe` bystander): the kernel survives and its counters
/// account for every frame.
fn net_malformed_burst() -> Scenario {
    Scenario {
        name: "net-malformed-burst",
        image: Image::Kernel,
        cmdline: format!("net.report=rx:{BURST_FRAMES} exo.init=netprobe exo.arg={BYSTANDER_ARG}"),
        net: Net::Socket {
            port: free_port(Proto::Tcp),
        },
        driver: Some(Box::new(MalformedBurst {
            count: BURST_FRAMES,
            seed: time_seed(),
            ready: "bystander bound",
        })),
        expect: Expect::Banner {
            lines: vec!["net: ready", "bystander bound", "NETSTAT ", "NETBIND "],
            stop_at: None,
        },
        timeout: Duration::from_secs(90),
        qemu_args: Vec::new(),
        prefer_tap: false,
    }
}

/// Name prefix of the kernel's environment tests (`kernel/src/envtest`).
const ENV_TESTS: &str = "envtest::";
/// Name prefix of the kernel's network environment tests
/// (`kernel/src/netenv.rs`).
const NET_ENV_TESTS: &str = "netenv::";

/// Name prefix of the network environment tests that run on a tap when
/// possible (`kernel/src/netenv/asleep.rs`).
const NET_ASLEEP_TESTS: &str = "netenv::asleep::";

/// User networking forwarding every UDP port the network environment
/// tests use.
fn net_env_forwards() -> Net {
    Net::User {
        forwards: exo_ports()
            .into_iter()
            .map(|p| (Proto::Udp, free_port(Proto::Udp), p))
            .collect(),
    }
}

/// Secure packet bindings by environments (`kernel/src/netenv/`):
/// disjoint rings and granted overlaps, spoofed transmits, fuel
/// exhaustion, hostile arguments, kills. The host reaches the guest's UDP
/// ports through user networking forwards and serves the tests'
/// `NETTEST` requests.
fn net_env_tests() -> Scenario {
    Scenario {
        name: "net-env-tests",
        image: Image::TestKernel,
        // The ARP request announces the guest to user networking, so
        // forwarded datagrams reach it.
        cmdline: format!(
            "ktest.filter={NET_ENV_TESTS} ktest.exclude={NET_ASLEEP_TESTS} net.ip={} net.gateway={}",
            net_backend::USER_GUEST,
            net_backend::USER_GATEWAY
        ),
        net: net_env_forwards(),
        driver: Some(Box::new(NetEnvTests { seed: time_seed() })),
        expect: Expect::KernelTests {
            per_test: Duration::from_secs(120),
        },
        timeout: Duration::from_secs(600),
        qemu_args: Vec::new(),
        prefer_tap: false,
    }
}

/// Handlers that serve the host while their owner is blocked
/// (`kernel/src/netenv/asleep.rs`): the BPF and WebAssembly UDP echoes and
/// vectoring with `wake_owner`, each probe answering ARP for its address
/// with a handler too. On a fresh host tap when xtask runs as root (the
/// host sends to the guest's address; its ARP requests must be
/// answered), on user networking with forwarded ports otherwise.
fn net_asleep() -> Scenario {
    Scenario {
        name: "net-asleep",
        image: Image::TestKernel,
        // `net.ip`/`net.gateway` follow the backend (`net_backend`).
        cmdline: format!("ktest.filter={NET_ASLEEP_TESTS}"),
        net: net_env_forwards(),
        driver: Some(Box::new(NetEnvTests { seed: time_seed() })),
        expect: Expect::KernelTests {
            per_test: Duration::from_secs(120),
        },
        timeout: Duration::from_secs(300),
        qemu_args: Vec::new(),
        prefer_tap: true,
    }
}

/// Guest UDP ports the network environment tests use
/// (`exo_abi::netprobe::UDP_PORTS`; xtask depends on no project crate).
fn exo_ports() -> Vec<u16> {
    vec![7, 7007, 7008, 7001, 7002, 7100, 6000, 7011]
}

/// The environment tests (hostile probes in ring 3), in their own boot
/// under `-icount`: budgets, deadlines and CPU shares are measured in guest
/// instructions, so host load cannot make them flaky.
fn env_tests() -> Scenario {
    Scenario {
        name: "env-tests",
        image: Image::TestKernel,
        cmdline: format!("ktest.filter={ENV_TESTS}"),
        net: Net::None,
        driver: None,
        expect: Expect::KernelTests {
            per_test: Duration::from_secs(60),
        },
        timeout: Duration::from_secs(300),
        qemu_args: ICOUNT.to_vec(),
        prefer_tap: false,
    }
}

/// The default demo (`cargo xtask run`): `init` and `pong` exchange
/// messages by protected control transfer and share a page. Under `-icount`
/// like the environment tests: the end-of-slice budget is tens of
/// microseconds, which plain TCG on a loaded host can miss.
fn demo() -> Scenario {
    Scenario {
        name: "demo",
        image: Image::Kernel,
        cmdline: "exo.exit".into(),
        net: Net::None,
        driver: None,
        expect: Expect::Banner {
            lines: vec![
                "[init:0] init: pong says 40 + 2 = 42",
                "protected control transfer round trips",
                "[pong:1] pong: env 0.1 shared a page: \"hello, pong: this page is shared\"",
                "wrote back \"pong was here\"",
                "pong (env 1.1) killed by its parent env 0.1",
                "`init` exited with code 0",
            ],
            stop_at: None,
        },
        timeout: Duration::from_secs(60),
        qemu_args: ICOUNT.to_vec(),
        prefer_tap: false,
    }
}

/// Every scenario, in run order. `with_iso` adds the GRUB ISO boot.
pub fn all(with_iso: bool) -> Vec<Scenario> {
    let mut v = vec![
        Scenario {
            name: "kernel-tests",
            image: Image::TestKernel,
            // Environment tests run in their own boot (below).
            cmdline: format!("ktest.exclude={ENV_TESTS},{NET_ENV_TESTS}"),
            // The network tests need a NIC; user networking answers ARP.
            net: Net::User {
                forwards: Vec::new(),
            },
            driver: None,
            expect: Expect::KernelTests {
                per_test: Duration::from_secs(30),
            },
            timeout: Duration::from_secs(600),
            qemu_args: Vec::new(),
            prefer_tap: false,
        },
        env_tests(),
        net_env_tests(),
        net_asleep(),
        demo(),
        crash(
            "crash-page-fault",
            "page-fault",
            Expect::Crash {
                exit: GuestExit::Crash,
                fields: vec![
                    ("vector", "14".into()),
                    ("name", "#PF".into()),
                    ("error", "0x2".into()),
                    ("cr2", format!("{PAGE_FAULT_ADDRESS:#018x}")),
                ],
                notes: vec![],
                frame_in: "ktest::crash::page_fault",
            },
        ),
        crash(
            "crash-stack-overflow",
            "stack-overflow",
            Expect::Crash {
                exit: GuestExit::Crash,
                fields: vec![("vector", "14".into()), ("name", "#PF".into())],
                notes: vec!["cr2 is in the guard page of kernel stack 'boot': stack overflow"],
                frame_in: "ktest::crash::recurse",
            },
        ),
        crash(
            "crash-double-fault",
            "double-fault",
            Expect::Crash {
                exit: GuestExit::Crash,
                fields: vec![
                    ("vector", "8".into()),
                    ("name", "#DF".into()),
                    ("error", "0x0".into()),
                ],
                notes: vec!["rsp is in the guard page of kernel stack 'boot': stack overflow"],
                frame_in: "ktest::crash::recurse",
            },
        ),
        crash(
            "crash-panic",
            "panic",
            Expect::Panic {
                message: "deliberate panic from the crash test",
                frame_in: "ktest::crash::trigger",
            },
        ),
        crash(
            "crash-triple-fault",
            "triple-fault",
            Expect::TripleFault {
                after: "KCRASH trigger triple-fault",
            },
        ),
        Scenario {
            name: "boot-banner",
            image: Image::Kernel,
            cmdline: "exo.exit".into(),
            net: Net::None,
            driver: None,
            expect: Expect::Banner {
                lines: banner_lines(),
                stop_at: None,
            },
            timeout: Duration::from_secs(60),
            qemu_args: Vec::new(),
            prefer_tap: false,
        },
        Scenario {
            name: "net-user",
            image: Image::Kernel,
            cmdline: "exo.exit".into(),
            net: Net::User {
                forwards: vec![
                    (Proto::Udp, free_port(Proto::Udp), 7),
                    (Proto::Tcp, free_port(Proto::Tcp), 80),
                ],
            },
            driver: Some(Box::new(SeesVirtioNet)),
            expect: Expect::Banner {
                lines: vec![
                    "pci ",
                    "1af4:1041",
                    "net: virtio-net MAC 52:54:00:12:34:56 link up",
                    "exo: boot complete",
                ],
                stop_at: None,
            },
            timeout: Duration::from_secs(60),
            qemu_args: Vec::new(),
            prefer_tap: false,
        },
        net_udp_echo(),
        net_malformed_burst(),
    ];
    if with_iso {
        v.push(Scenario {
            name: "iso-boot",
            image: Image::Iso,
            cmdline: String::new(),
            net: Net::None,
            driver: None,
            expect: Expect::Banner {
                lines: banner_lines(),
                stop_at: Some("exo: boot complete"),
            },
            timeout: Duration::from_secs(90),
            qemu_args: Vec::new(),
            prefer_tap: false,
        });
    }
    v
}
