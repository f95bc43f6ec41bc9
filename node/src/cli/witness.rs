//! Witness mode's flags on `monitor`: the other monitors that confirm this one's verdicts, so
//! a node is `down` only when `--quorum` monitors suspect it (see `hb_core::Quorum`).

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::Args;
use hb_core::{MAX_WITNESSES, Quorum};

use super::values::parse_duration;

/// The witness flags.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct WitnessArgs {
    /// Another monitor watching the same nodes, as HOST:PORT: its first `udp://` listen
    /// address (repeatable, 1 to 8; hostnames are resolved once, at start).
    ///
    /// Monitors tell their witnesses which nodes they suspect (signed with the first key of
    /// --key-file), from and to their first `udp://` listener. A node is `down` (reason
    /// `agreed`) only when --quorum monitors suspect it; a monitor that alone cannot hear a
    /// node reports it `unreachable`, naming itself. A silent witness is `witness_down`; with
    /// fewer than --quorum monitors up this monitor's own verdicts are final (`quorum_lost`).
    #[arg(
        long = "witness",
        env = "HBNODE_WITNESS",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub(crate) witnesses: Vec<String>,

    /// Monitors, this one included, that must suspect a node for it to be down [default: a
    /// majority of all monitors: 2 of 3, 3 of 4 or 5].
    #[arg(long, env = "HBNODE_QUORUM", value_name = "K")]
    pub(crate) quorum: Option<usize>,

    /// How often this monitor repeats its verdicts to each witness (its beat to them).
    #[arg(
        long,
        env = "HBNODE_WITNESS_PERIOD",
        value_name = "DUR",
        default_value = "1s",
        value_parser = parse_duration
    )]
    pub(crate) witness_period: Duration,
}

/// Whether `witness` is one of `listen` (an unspecified listen address is every local one).
fn is_own(witness: SocketAddr, listen: &[SocketAddr]) -> bool {
    let w = SocketAddr::new(witness.ip().to_canonical(), witness.port());
    listen.iter().any(|l| {
        let ip = l.ip().to_canonical();
        l.port() == w.port() && (ip == w.ip() || (ip.is_unspecified() && w.ip().is_loopback()))
    })
}

impl WitnessArgs {
    /// The core's configuration (`None`: no `--witness`), given this monitor's native UDP
    /// listen addresses (the first is where verdicts go out from).
    pub(crate) fn config(&self, listen: &[SocketAddr]) -> anyhow::Result<Option<Quorum>> {
        if self.witnesses.is_empty() {
            if self.quorum.is_some() {
                bail!("--quorum needs --witness: name the other monitors");
            }
            return Ok(None);
        }
        if self.witnesses.len() > MAX_WITNESSES {
            bail!(
                "--witness: at most {MAX_WITNESSES} witnesses, got {}",
                self.witnesses.len()
            );
        }
        if listen.is_empty() {
            bail!(
                "--witness needs a udp:// --listen address: verdicts are sent from and to the \
                 first one"
            );
        }
        let mut witnesses = Vec::with_capacity(self.witnesses.len());
        for w in &self.witnesses {
            let addr = w
                .to_socket_addrs()
                .with_context(|| format!("--witness {w}: not HOST:PORT, or cannot be resolved"))?
                .next()
                .with_context(|| format!("--witness {w}: resolves to no address"))?;
            if witnesses.contains(&addr) {
                bail!("--witness {w}: named twice (as {addr})");
            }
            if is_own(addr, listen) {
                bail!("--witness {w}: that is this monitor's own listen address");
            }
            witnesses.push(addr);
        }
        let monitors = witnesses.len() + 1;
        let needed = self.quorum.unwrap_or(Quorum::majority(witnesses.len()));
        if !(1..=monitors).contains(&needed) {
            bail!(
                "--quorum {needed}: between 1 and {monitors} (this monitor and its {} \
                 witnesses)",
                witnesses.len()
            );
        }
        if self.witness_period < Duration::from_millis(10) {
            bail!("--witness-period must be at least 10ms");
        }
        let incarnation = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let q = Quorum {
            witnesses,
            needed,
            period: self.witness_period,
            incarnation,
        };
        q.validate().context("--witness")?;
        Ok(Some(q))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        w: WitnessArgs,
    }

    const LISTEN: &str = "127.0.0.1:7000";

    fn parse(args: &[&str]) -> Result<Option<Quorum>, String> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        t.w.config(&[LISTEN.parse().unwrap()])
            .map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn default_quorum_is_a_majority_of_all_monitors() {
        assert_eq!(parse(&[]).unwrap(), None);
        let q = parse(&["--witness", "127.0.0.1:7001", "--witness", "127.0.0.1:7002"])
            .unwrap()
            .unwrap();
        assert_eq!((q.witnesses.len(), q.needed), (2, 2));
        assert_eq!(q.period, Duration::from_secs(1));
        assert!(q.incarnation > 1_600_000_000_000_000, "{}", q.incarnation);
        let four = parse(&["--witness", "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"])
            .unwrap()
            .unwrap();
        assert_eq!(four.needed, 3);
        let one = parse(&[
            "--witness",
            "localhost:7001",
            "--quorum",
            "1",
            "--witness-period",
            "200ms",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(one.witnesses[0].port(), 7001);
        assert_eq!((one.needed, one.period), (1, Duration::from_millis(200)));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let nine: Vec<String> = (0..9).map(|i| format!("127.0.0.1:{}", 7101 + i)).collect();
        let nine = nine.join(",");
        for (args, want) in [
            (&["--quorum", "2"][..], "needs --witness"),
            (
                &["--witness", "127.0.0.1:7001", "--quorum", "3"][..],
                "between 1 and 2",
            ),
            (
                &["--witness", "127.0.0.1:7001", "--quorum", "0"][..],
                "between 1 and 2",
            ),
            (
                &["--witness", "127.0.0.1:7001,127.0.0.1:7001"][..],
                "named twice",
            ),
            (&["--witness", LISTEN][..], "own listen address"),
            (&["--witness", "nohostport"][..], "not HOST:PORT"),
            (&["--witness", &nine][..], "at most 8"),
            (
                &["--witness", "127.0.0.1:7001", "--witness-period", "1ms"][..],
                "10ms",
            ),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn an_unspecified_listen_address_is_every_local_one() {
        let any: SocketAddr = "0.0.0.0:7000".parse().unwrap();
        assert!(is_own("127.0.0.1:7000".parse().unwrap(), &[any]));
        assert!(is_own("[::ffff:127.0.0.1]:7000".parse().unwrap(), &[any]));
        assert!(!is_own("127.0.0.1:7001".parse().unwrap(), &[any]));
        assert!(!is_own("10.0.0.2:7000".parse().unwrap(), &[any]));
    }
}
