//! `hbnode peer`: one member of a multicast peer group. The group name gives the address, port
//! and hash ([`hb_core::group`]); the process runs the Beater actor beating to the group and
//! the monitor's actors (Receiver → Detector → Reporter, HTTP API) over every other member.
//! The core Monitor, told who this member is, ignores its own looped-back beats and answers
//! `hbnode peers`' identify requests.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use actix::prelude::*;
use anyhow::{Context as _, bail};
use hb_core::group::Group;
use hb_core::{Beater, NodeId, PeerIdentity};

use crate::cli::detector::DetectorFlags;
use crate::cli::peer::PeerArgs;
use crate::commands::beat::BeatSettings;
use crate::net::multicast;
use crate::net::transport::Udp;
use crate::process::host::hostname;
use crate::runtime::beater::{BeaterActor, Leave};
use crate::runtime::clock::Clock;
use crate::runtime::wiring::{self, MonitorSettings};

/// What `hbnode peer` runs with.
#[derive(Clone, Debug)]
pub(crate) struct PeerSettings {
    /// The group.
    pub(crate) group: Group,
    /// Multicast TTL.
    pub(crate) ttl: u32,
    /// The interface address to join on and send from, if chosen.
    pub(crate) iface: Option<Ipv4Addr>,
    /// The monitoring half (no listeners of its own: the group socket is added at start).
    pub(crate) monitor: MonitorSettings,
    /// The beating half (its one "monitor" is the group address).
    pub(crate) beat: BeatSettings,
}

impl PeerSettings {
    /// Validates the arguments (the interface name is looked up here).
    pub(crate) fn from_args(a: PeerArgs) -> anyhow::Result<Self> {
        let multicast::GroupFlags {
            group,
            iface,
            keyring,
        } = multicast::GroupFlags::new(&a.net)?;
        if a.period.is_zero() {
            bail!("--period must be greater than zero");
        }
        let id = a.id.unwrap_or_else(hostname);
        let id = NodeId::new(&id).with_context(|| format!("--id `{id}` is not a valid node id"))?;
        // A peer group is zero-configuration and in memory: no store, no actions. `peer` is
        // set at start, when the incarnation is known.
        let monitor = MonitorSettings {
            http: a.http.0,
            events: Some(a.events),
            forget_after: a.forget_after,
            isolation: a.isolation.config()?,
            zones: a.isolation.zones_checked()?,
            keyring: keyring.clone(),
            group: group.hash(),
            ..MonitorSettings::new(id.to_string(), DetectorFlags::from_args(&a.detector)?)
        };
        let beat = BeatSettings {
            jitter: a.jitter,
            keyring,
            ..BeatSettings::new(id, vec![SocketAddr::V4(group.socket_addr())], a.period)
        };
        Ok(Self {
            group,
            ttl: a.net.ttl,
            iface,
            monitor,
            beat,
        })
    }
}

/// Runs `hbnode peer` until SIGINT or SIGTERM, then leaves the group.
pub(crate) fn run(mut s: PeerSettings) -> anyhow::Result<ExitCode> {
    System::new().block_on(async move {
        let clock = Clock::new();
        let mut cfg = s.beat.beater_config(&clock);
        cfg.group = s.group.hash();
        // Nobody acks a multicast beat: never ask (peers would count the acks as rejections).
        cfg.schedule_poll = None;
        s.monitor.peer = Some(PeerIdentity {
            id: cfg.id.clone(),
            incarnation: cfg.incarnation,
        });
        if s.monitor.keyring.is_empty() {
            tracing::warn!(
                "beats are unauthenticated: anyone who can reach the group can report a member \
                 alive; give every peer the same --key-file (see `hbnode keygen`)"
            );
        }
        let group_socket = multicast::group_socket(&s.group, s.iface)?;
        let running = wiring::start_with(
            &s.monitor,
            clock,
            None,
            vec![Udp::from_socket(group_socket)?],
        )?;
        let sender = Udp::from_socket(multicast::sender_socket(s.ttl, s.iface)?)?;
        let beater = Beater::new(cfg, clock.now()).context("invalid peer settings")?;
        let actor = BeaterActor::new(beater, sender, clock).start();
        eprintln!(
            "hbnode peer: {} in group {} at {} (hash {:08x}, ttl {}, interface {}){}",
            s.beat.id,
            s.group.name(),
            s.group.socket_addr(),
            s.group.hash(),
            s.ttl,
            s.iface
                .map_or_else(|| "by route".to_owned(), |ip| ip.to_string()),
            running
                .http
                .as_ref()
                .map(|(_, a)| format!(", HTTP on {a}"))
                .unwrap_or_default()
        );
        let sig = crate::process::notify::serve_until_signal(running.health_probes()).await?;
        tracing::info!(signal = sig, "leaving the group");
        actor
            .send(Leave)
            .await
            .context("the beater stopped unexpectedly")?;
        running.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::config::parse_from;

    fn settings(args: &[&str]) -> anyhow::Result<PeerSettings> {
        let mut argv = vec!["hbnode".into(), "peer".into()];
        argv.extend(args.iter().map(std::ffi::OsString::from));
        match parse_from(argv) {
            Ok(crate::cli::Cli {
                command: crate::cli::Command::Peer(a),
                ..
            }) => PeerSettings::from_args(a),
            other => panic!("not peer: {other:?}"),
        }
    }

    #[test]
    fn peer_beats_to_the_derived_group_and_monitors_in_it() {
        let s = settings(&["--group", "prod", "--id", "a", "--timeout", "2s"]).unwrap();
        let g = Group::new("prod").unwrap();
        assert_eq!(s.beat.monitors, [SocketAddr::V4(g.socket_addr())]);
        assert_eq!(s.beat.ack_timeout, None, "peers want no acks");
        assert_eq!(s.monitor.group, g.hash());
        assert!(s.monitor.listen.is_empty());
        assert_eq!(s.ttl, 1);
        assert_eq!(s.iface, None);
        assert_eq!(
            s.monitor.detector,
            hb_core::detector::DetectorConfig::Fixed(hb_core::detector::Fixed {
                timeout: std::time::Duration::from_secs(2)
            })
        );
    }

    #[test]
    fn peer_flags_are_checked() {
        let e = settings(&["--group", ""]).unwrap_err();
        assert_eq!(format!("{e:#}"), "--group ``: group name is empty");
        let e = settings(&["--group", "g", "--iface", "nope0"]).unwrap_err();
        assert!(format!("{e:#}").contains("--iface nope0"), "{e:#}");
        let e = settings(&["--group", "g", "--timeout", "1s", "--detector", "phi"]).unwrap_err();
        assert!(format!("{e:#}").contains("--timeout applies to --detector fixed"));
        assert!(settings(&["--group", "g", "--period", "0s"]).is_err());
        assert_eq!(
            settings(&["--group", "g", "--iface", "lo", "--ttl", "0"])
                .unwrap()
                .iface,
            Some(Ipv4Addr::LOCALHOST)
        );
        let mut argv: Vec<std::ffi::OsString> = vec!["hbnode".into(), "peer".into()];
        argv.extend(["--group", "g", "--ttl", "256"].map(Into::into));
        assert!(parse_from(argv).is_err(), "ttl above 255");
    }
}
