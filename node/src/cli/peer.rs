//! Flags of `hbnode peer` and `hbnode peers`, and the group flags they share.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::detector::DetectorArgs;
use super::values::EventFormat;
use super::values::{HttpAddr, parse_duration, parse_percent};

/// The group flags `peer` and `peers` share.
#[derive(Debug, Args)]
pub(crate) struct GroupArgs {
    /// The group: every peer started with the same NAME finds the others.
    ///
    /// The multicast address (in 239.255.0.0/16), the UDP port (24000–31999) and the hash every
    /// beat carries are derived from NAME alone and printed at start; two groups that share an
    /// address or port never mix. 1–64 bytes, case-sensitive.
    #[arg(long, env = "HBNODE_GROUP", value_name = "NAME", required = true)]
    pub(crate) group: String,

    /// Multicast time-to-live: 1 keeps traffic on this network segment, 0 on this host; more
    /// crosses that many multicast routers.
    #[arg(long, env = "HBNODE_TTL", value_name = "N", default_value = "1",
        value_parser = clap::value_parser!(u32).range(0..=255))]
    pub(crate) ttl: u32,

    /// The network interface to join the group on and send from: a name (`eth0`) or one of
    /// its IPv4 addresses (default: the one the routing table picks for 239.255.0.0/16).
    #[arg(long, env = "HBNODE_IFACE", value_name = "IF")]
    pub(crate) iface: Option<String>,

    /// Keys, one `hbk1:` line each (see `hbnode keygen`): with a key file only key holders
    /// count.
    ///
    /// Beats, identify requests and answers are signed with the first key; those without a
    /// valid MAC under one of the keys are refused and counted (`peers` lists only signed
    /// answers). A file other users can read, or group or others can write, is refused.
    #[arg(long, env = "HBNODE_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
}

/// Flags of `hbnode peer`.
#[derive(Debug, Args)]
pub(crate) struct PeerArgs {
    /// The group, and how to reach it.
    #[command(flatten)]
    pub(crate) net: GroupArgs,

    /// This peer's id (default: the hostname). Every member needs its own.
    #[arg(long, env = "HBNODE_ID", value_name = "NAME")]
    pub(crate) id: Option<String>,

    /// Time between beats.
    #[arg(long, env = "HBNODE_PERIOD", value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub(crate) period: Duration,

    /// Random spread of each interval, in percent of the period (0–50).
    #[arg(long, env = "HBNODE_JITTER", value_name = "PCT", default_value = "5", value_parser = parse_percent)]
    pub(crate) jitter: f64,

    /// The failure detector applied to every other member, and its settings.
    #[command(flatten)]
    pub(crate) detector: DetectorArgs,

    /// The isolation guard (the monitor's own blindness, reported once).
    #[command(flatten)]
    pub(crate) isolation: super::isolation::IsolationArgs,

    /// Event format on stdout: text for people, json for programs (one object per line).
    #[arg(long, env = "HBNODE_EVENTS", value_enum, default_value = "text")]
    pub(crate) events: EventFormat,

    /// Address of the HTTP API (the same as `monitor`'s), or `off`. Several peers on one host
    /// need one address each, or `off`.
    #[arg(
        long,
        env = "HBNODE_HTTP",
        value_name = "ADDR",
        default_value = "127.0.0.1:43280"
    )]
    pub(crate) http: HttpAddr,

    /// Drop a member that has been down or gone this long (default: never).
    #[arg(long, env = "HBNODE_FORGET_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) forget_after: Option<Duration>,
}

/// Flags of `hbnode peers`.
#[derive(Debug, Args)]
pub(crate) struct PeersArgs {
    /// The group to ask, and how to reach it.
    #[command(flatten)]
    pub(crate) net: GroupArgs,

    /// How long to collect answers (at most 1h).
    #[arg(long, env = "HBNODE_WAIT", value_name = "DUR", default_value = "500ms", value_parser = super::values::parse_peers_wait)]
    pub(crate) wait: Duration,

    /// Print the members as a JSON array instead of a table.
    #[arg(long, env = "HBNODE_JSON")]
    pub(crate) json: bool,
}
