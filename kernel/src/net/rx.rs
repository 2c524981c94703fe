//! The receive path: every used RX buffer becomes one counted frame, is
//! checked ([`super::frame`]), classified by the compiled trie, and handed
//! to its binding: the handler runs at once (with the shared `AshHelpers`:
//! `send_frame` is the TX path, `wake_owner` the environment hook), and
//! frames it delivers (or every frame, without a handler) go to the
//! binding's sink. Frames no filter takes go to the default receiver when
//! one asked to be it (its handler, then its ring or sink, exactly as if
//! its filters had taken them), and are dropped otherwise.

use filter_lang::bpf::ash::{AshEnv, SendError};
use filter_lang::bpf::spec::verdict;

use super::binding::Binding;
use super::counters::{COUNTERS, bump};
use super::demux::{Atoms, program_takes};
use super::frame::{self, BadFrame};
use super::handler::Handler;
use super::hooks::{self, OwnerId};
use super::latency::{self, Arrival};
use crate::drivers::virtio_net::{RxBad, RxEvent, TxError};

/// The effects of one handler run.
struct RunEnv<'a> {
    owner: OwnerId,
    /// The binding's filters when an environment owns it: its handler may
    /// send only what the binding itself would receive the replies of
    /// (`super::tx`): its atom filters' or, where no atom filter claims
    /// the mirror image (`atoms`), its filter program's.
    tx_filters: Option<&'a [filter_lang::filter::Filter]>,
    tx_program: Option<&'a mut Handler>,
    atoms: Atoms<'a>,
    arrival: Arrival,
    sent: u64,
    send_failures: u64,
    wakeups: u64,
}

impl AshEnv for RunEnv<'_> {
    fn now_ns(&mut self) -> u64 {
        crate::time::now_ns()
    }

    fn send_frame(&mut self, frame: &[u8]) -> Result<(), SendError> {
        if let Some(filters) = self.tx_filters {
            let mac = super::mac().unwrap_or_default();
            let (program, atoms) = (&mut self.tx_program, self.atoms);
            let takes = |m: &[u8]| {
                filters.iter().any(|f| f.matches(m))
                    || (atoms.classify(m).is_none()
                        && program.as_deref_mut().is_some_and(|p| program_takes(p, m)))
            };
            if super::tx::check(frame, mac, takes).is_err() {
                bump(&COUNTERS.tx_refused);
                self.send_failures += 1;
                return Err(SendError::Unavailable);
            }
        }
        match super::transmit(frame) {
            Ok(()) => {
                if self.sent == 0 {
                    latency::record(self.arrival);
                }
                self.sent += 1;
                Ok(())
            }
            Err(e) => {
                self.send_failures += 1;
                Err(match e {
                    super::SendFailure::Tx(TxError::QueueFull) => SendError::QueueFull,
                    _ => SendError::Unavailable,
                })
            }
        }
    }

    fn wake_owner(&mut self) {
        self.wakeups += 1;
        hooks::hooks().wake(self.owner);
    }
}

/// One used RX buffer.
pub(super) fn on_event(ev: RxEvent<'_>, arrival: Arrival) {
    bump(&COUNTERS.rx_frames);
    match ev {
        RxEvent::Frame(bytes) => on_frame(bytes, arrival),
        RxEvent::Bad(bad) => {
            if matches!(bad, RxBad::Ring(_)) {
                bump(&COUNTERS.device_errors);
            }
            log::debug!("net: device returned a bad receive buffer: {bad:?}");
            bump(&COUNTERS.drop_malformed);
        }
    }
}

fn on_frame(bytes: &[u8], arrival: Arrival) {
    COUNTERS
        .rx_bytes
        .fetch_add(bytes.len() as u64, core::sync::atomic::Ordering::Relaxed);
    if let Err(bad) = frame::check(bytes) {
        bump(match bad {
            BadFrame::Truncated => &COUNTERS.drop_truncated,
            BadFrame::Malformed => &COUNTERS.drop_malformed,
            BadFrame::Oversized => &COUNTERS.drop_oversized,
        });
        return;
    }
    super::with_demux(|d| {
        // A binding's filters take the frame, or else the default receiver
        // gets it as if its filters had (its handler first, then its sink).
        let Some(id) = d.classify(bytes).or(d.default_binding()) else {
            bump(&COUNTERS.drop_unclaimed);
            return;
        };
        match d.binding_with_atoms(id) {
            Some((b, atoms)) => {
                deliver(b, atoms, bytes, arrival);
                super::export::write_binding(b);
            }
            None => bump(&COUNTERS.drop_unclaimed),
        }
    });
}

fn deliver(b: &mut Binding, atoms: Atoms<'_>, bytes: &[u8], arrival: Arrival) {
    b.stats.matches += 1;
    if let Some(h) = b.handler.as_mut() {
        let mut env = RunEnv {
            owner: b.owner,
            tx_filters: (b.owner != hooks::KERNEL_OWNER).then_some(&b.tx_filters[..]),
            tx_program: b.filter_program.as_mut(),
            atoms,
            arrival,
            sent: 0,
            send_failures: 0,
            wakeups: 0,
        };
        let start = crate::arch::cpu::rdtsc();
        let result = h.run(bytes, &mut env);
        b.stats.handler_cycles += crate::arch::cpu::rdtsc().saturating_sub(start);
        b.stats.handler_runs += 1;
        b.stats.sent += env.sent;
        b.stats.send_failures += env.send_failures;
        b.stats.wakeups += env.wakeups;
        match result {
            Ok(verdict::CONSUMED) => {
                b.stats.consumed += 1;
                bump(&COUNTERS.rx_consumed);
                return;
            }
            // The verifier proves the verdict is 0 or 1.
            Ok(_) => {}
            Err(fault) => {
                b.stats.handler_faults += 1;
                b.last_fault = Some(fault);
                bump(&COUNTERS.drop_handler_fault);
                return;
            }
        }
    }
    to_sink(b, bytes, arrival);
}

/// Hands the frame to the binding's ring (or sink) and wakes its owner.
fn to_sink(b: &mut Binding, bytes: &[u8], arrival: Arrival) {
    let delivered = match b.sink.as_mut() {
        Some(sink) => sink.deliver(bytes, arrival.ns).is_ok(),
        None => false,
    };
    if delivered {
        b.stats.delivered += 1;
        b.stats.wakeups += 1;
        bump(&COUNTERS.rx_delivered);
        hooks::hooks().wake(b.owner);
    } else {
        b.stats.ring_overflows += 1;
        bump(&COUNTERS.drop_no_buffer);
    }
}
