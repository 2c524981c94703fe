//! The Linux kernel's eBPF engine as a benchmark peer: load a handler as an
//! XDP program with `bpf(BPF_PROG_LOAD)` and time it with
//! `bpf(BPF_PROG_TEST_RUN)` and a repeat count (needs root, or
//! CAP_BPF + CAP_NET_ADMIN).
//!
//! exo's `packet` context has `data` and `data_end` as 64-bit pointers at
//! offsets 0 and 8; XDP's `struct xdp_md` has them as 32-bit fields at 0 and
//! 4 (the kernel rewrites those loads into pointer loads). [`to_xdp`] changes
//! exactly those two context loads and nothing else.

use filter_lang::bpf::Insn;
use filter_lang::bpf::insn::code;
use std::fmt;
use std::io;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_PROG_TYPE_XDP: u32 = 6;

/// `union bpf_attr` for `BPF_PROG_LOAD` (the fields used; the rest zero).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    reserved: [u64; 8],
}

/// `union bpf_attr` for `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

/// Why Linux could not be used.
#[derive(Debug)]
pub enum LinuxBpfError {
    /// `bpf(BPF_PROG_LOAD)` failed; the verifier log, when there is one.
    Load { err: io::Error, log: String },
    /// `bpf(BPF_PROG_TEST_RUN)` failed.
    TestRun(io::Error),
    /// A context load the rewrite does not understand.
    Context { pc: usize },
}

impl fmt::Display for LinuxBpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinuxBpfError::Load { err, log } => {
                write!(f, "BPF_PROG_LOAD refused: {err}")?;
                if !log.is_empty() {
                    write!(f, "; verifier log:\n{log}")?;
                }
                Ok(())
            }
            LinuxBpfError::TestRun(e) => write!(f, "BPF_PROG_TEST_RUN refused: {e}"),
            LinuxBpfError::Context { pc } => write!(
                f,
                "instruction {pc}: a context access other than ldxdw data/data_end from r1"
            ),
        }
    }
}

impl std::error::Error for LinuxBpfError {}

/// Rewrites the two context loads for XDP: `ldxdw rX, [r1+0]` becomes
/// `ldxw rX, [r1+0]` (`xdp_md.data`) and `ldxdw rX, [r1+8]` becomes
/// `ldxw rX, [r1+4]` (`xdp_md.data_end`). Handlers never write r1, so every
/// load from r1 is a context load; any other load from r1 is refused.
pub fn to_xdp(words: &[Insn]) -> Result<Vec<Insn>, LinuxBpfError> {
    let ldxdw = code::CLASS_LDX | code::MODE_MEM | code::SIZE_DW;
    let ldxw = code::CLASS_LDX | code::MODE_MEM | code::SIZE_W;
    let mut out = words.to_vec();
    let mut skip_next = false;
    for (pc, w) in out.iter_mut().enumerate() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if w.code == code::LDDW {
            skip_next = true;
            continue;
        }
        if w.class() == code::CLASS_LDX && w.src == 1 {
            match (w.code == ldxdw, w.off) {
                (true, 0) => w.code = ldxw,
                (true, 8) => {
                    w.code = ldxw;
                    w.off = 4;
                }
                _ => return Err(LinuxBpfError::Context { pc }),
            }
        }
    }
    Ok(out)
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, properly sized `bpf_attr` prefix; the kernel
    // reads and writes only within `size_of::<T>()` bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A loaded XDP program (closed on drop).
pub struct XdpProgram {
    fd: i32,
}

impl XdpProgram {
    /// Loads `words` (already rewritten with [`to_xdp`]). The verifier log
    /// is only asked for (in a second attempt) when the load fails: a log
    /// that overflows its buffer fails the load with ENOSPC.
    pub fn load(words: &[Insn], name: &str) -> Result<XdpProgram, LinuxBpfError> {
        match Self::load_with_log(words, name, 0) {
            Ok(p) => Ok(p),
            Err(_) => Self::load_with_log(words, name, 1),
        }
    }

    fn load_with_log(
        words: &[Insn],
        name: &str,
        log_level: u32,
    ) -> Result<XdpProgram, LinuxBpfError> {
        let insns: Vec<u64> = words.iter().map(|w| w.to_u64()).collect();
        let license = b"GPL\0";
        let mut log = vec![0u8; if log_level > 0 { 1 << 20 } else { 0 }];
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_XDP,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level,
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            ..ProgLoadAttr::default()
        };
        for (d, s) in attr.prog_name.iter_mut().zip(name.bytes().take(15)) {
            *d = if s.is_ascii_alphanumeric() { s } else { b'_' };
        }
        match bpf(BPF_PROG_LOAD, &mut attr) {
            Ok(fd) => Ok(XdpProgram { fd: fd as i32 }),
            Err(err) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                Err(LinuxBpfError::Load {
                    err,
                    log: String::from_utf8_lossy(&log[..end]).into_owned(),
                })
            }
        }
    }

    /// Runs the program `repeat` times on `packet`; returns r0 and the
    /// kernel's average time per run in ns (an integer: the kernel divides
    /// its total by `repeat`).
    pub fn test_run(&self, packet: &[u8], repeat: u32) -> Result<(u32, u32), LinuxBpfError> {
        let mut out = vec![0u8; packet.len() + 256];
        let mut attr = TestRunAttr {
            prog_fd: self.fd as u32,
            data_size_in: packet.len() as u32,
            data_size_out: out.len() as u32,
            data_in: packet.as_ptr() as u64,
            data_out: out.as_mut_ptr() as u64,
            repeat,
            ..TestRunAttr::default()
        };
        bpf(BPF_PROG_TEST_RUN, &mut attr).map_err(LinuxBpfError::TestRun)?;
        Ok((attr.retval, attr.duration))
    }
}

impl Drop for XdpProgram {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value owns.
        unsafe { libc::close(self.fd) };
    }
}

/// The value of `/proc/sys/net/core/bpf_jit_enable` (1: the JIT is on).
pub fn jit_enabled() -> Option<String> {
    std::fs::read_to_string("/proc/sys/net/core/bpf_jit_enable")
        .ok()
        .map(|s| s.trim().to_string())
}
