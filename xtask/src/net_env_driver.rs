//! Host side of the `net-env-tests` scenario (`kernel/src/netenv.rs`):
//! serves the guest's traffic requests in order.

use std::net::UdpSocket;
use std::time::Duration;

use crate::net_drivers::{ECHO_SIZES, Rng};
use crate::qemu::{Net, Proto};
use crate::scenario::HostDriver;
use crate::session::SerialLog;

/// Host side of the `net-env-tests` scenario: follows the guest's
/// `NETTEST` requests in order (`echo PORT N`: send N datagrams of varied
/// sizes to guest port PORT, one at a time, each echo must come back byte
/// for byte; `send PORT N`: send N datagrams, no answer expected) until the
/// kernel tests end. Guest ports are reached through the user-networking
/// forwards of the scenario.
pub struct NetEnvTests {
    pub seed: u64,
}

/// How long one request may take to appear, and the whole run.
const REQUEST_WAIT: Duration = Duration::from_secs(300);

impl NetEnvTests {
    fn host_port(net: &Net, guest: u16) -> Result<u16, String> {
        match net {
            Net::User { forwards } => forwards
                .iter()
                .find(|(p, _, g)| *p == Proto::Udp && *g == guest)
                .map(|(_, h, _)| *h)
                .ok_or_else(|| format!("no UDP forward to guest port {guest}")),
            other => Err(format!("expected user networking, got {other:?}")),
        }
    }

    fn request(&self, line: &str, net: &Net, rng: &mut Rng) -> Result<(), String> {
        let words: Vec<&str> = line
            .split("NETTEST ")
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let (cmd, guest, n) = match words.as_slice() {
            [cmd, port, n] => (
                *cmd,
                port.parse::<u16>().map_err(|e| format!("`{line}`: {e}"))?,
                n.parse::<u64>().map_err(|e| format!("`{line}`: {e}"))?,
            ),
            _ => return Err(format!("cannot parse the request `{line}`")),
        };
        let port = Self::host_port(net, guest)?;
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        sock.connect(("127.0.0.1", port))
            .map_err(|e| format!("connect to {port}: {e}"))?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 2048];
        for i in 0..n {
            let payload = rng.bytes(ECHO_SIZES[i as usize % ECHO_SIZES.len()]);
            sock.send(&payload)
                .map_err(|e| format!("{cmd} {guest} #{i}: send: {e}"))?;
            if cmd == "send" {
                // Paced: the guest handles them one by one.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let got = sock.recv(&mut buf).map_err(|e| {
                format!(
                    "echo {guest} #{i} ({} bytes): no echo within 10 s: {e}",
                    payload.len()
                )
            })?;
            if buf[..got] != payload[..] {
                return Err(format!(
                    "echo {guest} #{i}: the echo differs ({got} bytes back for {} sent; seed {:#x})",
                    payload.len(),
                    self.seed
                ));
            }
        }
        Ok(())
    }
}

impl HostDriver for NetEnvTests {
    fn run(&mut self, serial: &SerialLog, net: &Net) -> Result<(), String> {
        let mut rng = Rng::new(self.seed);
        let mut next = 0;
        let mut handled = 0;
        let mut first_error = None;
        while let Some((i, line)) =
            serial.wait_from(next, &["NETTEST ", "KTEST done"], REQUEST_WAIT)
        {
            next = i + 1;
            if line.contains("KTEST done") {
                break;
            }
            handled += 1;
            // Keep serving later requests after a failure: the guest's
            // tests report their own side.
            if let Err(e) = self.request(&line, net, &mut rng)
                && first_error.is_none()
            {
                first_error = Some(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None if handled == 0 => Err("the guest asked for no traffic".into()),
            None => Ok(()),
        }
    }
}
