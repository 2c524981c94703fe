//! Command-line options of the timing benchmarks (`bench-jit`,
//! `bench-demux`): `--runs N`, `--target-ms MS`, `--pin`.

use crate::stats::pin_to_current_cpu;

#[derive(Clone, Debug)]
pub struct Opts {
    /// Samples per measurement.
    pub runs: usize,
    /// About how long one sample lasts (iterations are calibrated to it).
    pub target_ms: f64,
    /// Pin the thread to its CPU (better on a quiet machine, worse when
    /// other work shares the CPUs).
    pub pin: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            runs: 11,
            target_ms: 20.0,
            pin: false,
        }
    }
}

/// Parses the options (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<f64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--runs" => o.runs = num("--runs")?.max(1.0) as usize,
            "--target-ms" => o.target_ms = num("--target-ms")?,
            "--pin" => o.pin = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; use --runs N, --target-ms MS, --pin"
                ));
            }
        }
    }
    Ok(o)
}

/// The options of the running benchmark `name`: exits with status 2 and the
/// reason on a bad argument; pins the thread when asked.
pub fn from_args(name: &str) -> Opts {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(2);
        }
    };
    if opts.pin {
        let cpu = pin_to_current_cpu();
        eprintln!("{name}: pinned to CPU {cpu:?}");
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_and_their_errors() {
        let o = parse(args(&["--runs", "3", "--target-ms", "2.5", "--pin"])).unwrap();
        assert_eq!((o.runs, o.target_ms, o.pin), (3, 2.5, true));
        let o = parse(args(&["--runs", "0"])).unwrap();
        assert_eq!(o.runs, 1);
        let o = parse(args(&[])).unwrap();
        assert_eq!((o.runs, o.target_ms, o.pin), (11, 20.0, false));
        assert_eq!(
            parse(args(&["--runs"])).err().as_deref(),
            Some("--runs needs a number")
        );
        assert!(parse(args(&["--fast"])).unwrap_err().contains("--fast"));
    }
}
