//! Low-level arguments: what the command line, `HBNODE_*` variables and the `--config` file
//! say, validated for syntax only. Nothing here touches the network or the clock; each
//! subcommand's `Settings::from_args` turns these into what it runs with.

pub(crate) mod config;
pub(crate) mod listener;
pub(crate) mod schedule;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// hbnode: a cluster liveness monitor with measured detection guarantees.
///
/// Every flag can also be set with an `HBNODE_*` environment variable or in the TOML file named
/// by `--config` (command line > environment > file > built-in default).
#[derive(Debug, Parser)]
#[command(
    name = "hbnode",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// Read flag values from this TOML file.
    ///
    /// Top-level keys set global flags (`log-format`); a `[monitor]`, `[beat]`, `[peer]`,
    /// `[status]` or `[demo]` table sets that subcommand's flags, keyed by their long names (`timeout = "2s"`,
    /// `listen = ["udp://0.0.0.0:43278"]`). Unknown keys are an error. `[[monitor.listener]]`
    /// tables add listeners with their own detector settings (see `--listener`);
    /// `[[monitor.schedule]]` tables add central schedules (see `--schedule`);
    /// `[[monitor.threshold]]` tables add probe thresholds (see `--threshold`).
    #[arg(long, global = true, env = "HBNODE_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Log format on stderr.
    ///
    /// Logs go to stderr and are quiet by default (warnings and errors); set `RUST_LOG` (e.g.
    /// `RUST_LOG=info` or `RUST_LOG=hbnode=debug`) for more.
    #[arg(
        long,
        global = true,
        env = "HBNODE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub(crate) log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at startup; boxing would only complicate the match"
)]
pub(crate) enum Command {
    /// Receive beats and report nodes that join, go down, come back, restart or leave.
    Monitor(MonitorArgs),
    /// Send beats to one or more monitors until stopped; on SIGINT/SIGTERM say goodbye.
    Beat(BeatArgs),
    /// Print the nodes a running monitor knows, from its HTTP API.
    Status(StatusArgs),
    /// Check one node (and its probes) for Nagios or Icinga: one status line, perfdata, exit code.
    ///
    /// Exit codes follow the Nagios plugin guidelines: 0 OK, 1 WARNING, 2 CRITICAL (the node is
    /// down, or a probe is in error), 3 UNKNOWN (no such node or probe, or the monitor cannot be
    /// asked). A node that left on purpose is WARNING. Without `--probe` the worst of the node
    /// and all its probes counts. Example: `hbnode check --node web-1 --probe load1`.
    Check(CheckArgs),
    /// Join a multicast peer group: beat to it and watch every other member (no monitor).
    ///
    /// Every peer started with the same `--group` finds the others with no other setting: it
    /// beats to the group's multicast address and runs a monitor over every other member,
    /// printing the same events and serving the same HTTP API as `monitor`. On SIGINT/SIGTERM
    /// it says goodbye, so the others report it `left`, not `down`. Example:
    /// `hbnode peer --group prod --period 1s --timeout 3s`.
    Peer(PeerArgs),
    /// List the members of a peer group that answer an identify request.
    ///
    /// Sends an identify request to the group (twice, against the loss of one) and prints every
    /// member that answers within `--wait` (id, address, incarnation, uptime). Exit status: 0 if
    /// at least one member answered; 1 if none did, or on an error (said on stderr); 2 on bad
    /// flags.
    Peers(PeersArgs),
    /// Print the event history from the store (`--db`) or a running monitor (`--http`).
    ///
    /// Example: `hbnode history --node web-1 --since 6h`. Times are RFC 3339 UTC.
    History(HistoryArgs),
    /// Print, or chart as SVG, one probe's readings of one node from the store or a monitor.
    ///
    /// Example: `hbnode readings --node web-1 --probe load1 --since 2h --plot load.svg`.
    Readings(ReadingsArgs),
    /// Run a monitor and a few beaters on loopback, break some of them, and summarise.
    Demo(DemoArgs),
    /// Choose a timeout: the smallest that meets a false-alarm target, by theory and simulation.
    ///
    /// Given the beat period, the network's loss and delay, and a target number of false alarms
    /// per host per year, prints the smallest fixed timeout that meets it, its worst-case
    /// detection time, and a confirming seeded simulation of the same hb-core that `monitor`
    /// runs. Example: `hbnode plan --period 1s --loss 1% --delay normal:20ms,10ms`.
    Plan(hb_sim::cli::PlanArgs),
    /// Print a shell completion script to stdout (bash, zsh, fish, elvish, powershell).
    ///
    /// Example: `hbnode completions bash > /etc/bash_completion.d/hbnode`.
    Completions(CompletionsArgs),
    /// Print the hbnode(1) man page (roff) to stdout, or write every page to a directory.
    ///
    /// Example: `hbnode man | man -l -`.
    Man(ManArgs),
    /// Print the configuration reference (docs/config.md), generated from these flags.
    #[command(hide = true)]
    ConfigReference,
    /// Print a new authentication key (`hbk1:<id>:<64 hex digits>`) for `--key-file`.
    ///
    /// The secret comes from the operating system's randomness. Put the line in a file only its
    /// owner can read (`hbnode keygen > hb.keys && chmod 600 hb.keys`) and give that file to
    /// every beater and monitor with `--key-file`.
    Keygen(KeygenArgs),
}

/// Flags of `hbnode check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The node to check.
    #[arg(long, value_name = "ID")]
    pub(crate) node: String,

    /// Check only this probe (its state decides; a down node is still CRITICAL).
    #[arg(long, value_name = "NAME")]
    pub(crate) probe: Option<String>,

    /// The monitor's HTTP address.
    #[arg(
        long,
        env = "HBNODE_HTTP",
        value_name = "ADDR",
        default_value = "127.0.0.1:43280"
    )]
    pub(crate) http: String,

    /// Give up (UNKNOWN) if the monitor does not answer within this long.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
}

/// Flags of `hbnode completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Flags of `hbnode man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write hbnode.1 and one page per subcommand (hbnode-monitor.1, …) into DIR instead of
    /// printing hbnode.1.
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
}

/// Flags of `hbnode monitor`.
#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    /// Where to receive beats, as SCHEME://HOST:PORT (repeatable).
    ///
    /// One Receiver per address. PyHeartbeat's port, 43278, is the default. Schemes: `udp`
    /// (hbnode beats), `pyhb+udp` (PyHeartbeat: a `PyHB` datagram from the source IP),
    /// `text+udp` (one line per datagram parsed by `--msg-regex`, Circus's watchdog format by
    /// default), `json+tcp` (the TCP/JSON heartbeat: `{"ip","status","pid"}` objects after a
    /// `--greeting` line; a closed connection is down at once).
    #[arg(
        long,
        env = "HBNODE_LISTEN",
        value_name = "URL",
        default_value = "udp://0.0.0.0:43278",
        value_delimiter = ',',
        value_parser = parse_listen
    )]
    pub(crate) listen: Vec<ListenUrl>,

    /// The failure detector and its settings.
    #[command(flatten)]
    pub(crate) detector: DetectorArgs,

    /// Address of the HTTP API (/metrics, /v1/nodes, /v1/events, /healthz), or `off`.
    #[arg(
        long,
        env = "HBNODE_HTTP",
        value_name = "ADDR",
        default_value = "127.0.0.1:43280"
    )]
    pub(crate) http: HttpAddr,

    /// Event format on stdout: text for people, json for programs (one object per line).
    #[arg(long, env = "HBNODE_EVENTS", value_enum, default_value = "text")]
    pub(crate) events: EventFormat,

    /// Drop a node that has been down or gone this long (default: never).
    #[arg(long, env = "HBNODE_FORGET_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) forget_after: Option<Duration>,

    /// UDP receive buffer to ask the kernel for, per listener (e.g. 8MiB, 512KiB, 0 = system
    /// default).
    ///
    /// Linux silently clamps it to net.core.rmem_max; the granted size is logged, with a
    /// warning when it is smaller than asked. A small buffer drops beats under bursts.
    #[arg(
        long,
        env = "HBNODE_RECV_BUFFER",
        value_name = "BYTES",
        default_value = "8MiB",
        value_parser = parse_bytes
    )]
    pub(crate) recv_buffer: usize,

    /// This monitor's id, sent in acks (default: the hostname).
    #[arg(long, env = "HBNODE_ID", value_name = "NAME")]
    pub(crate) id: Option<String>,

    /// Record every beat's arrival to FILE, for `cargo xtask sim replay`.
    ///
    /// The file holds node, receive time, sequence number, incarnation and advertised period
    /// in hb-sim's compact versioned trace format. Replay reruns the real traffic under any
    /// detector and configuration and reports the QoS it would have had. Writing happens on
    /// its own thread behind a bounded queue: a slow disk drops records, never detections.
    #[arg(long, env = "HBNODE_RECORD", value_name = "FILE")]
    pub(crate) record: Option<PathBuf>,

    /// Keys for authenticated beats, one `hbk1:` line each (see `hbnode keygen`).
    ///
    /// Acks are signed with the first key; beats signed with any key in the file are accepted
    /// (rotation: add the new key, roll it out, move it first, drop the old one). Blank lines
    /// and `#` comments are ignored. A file readable by every user is refused. Without a key
    /// file beats are unauthenticated and the monitor says so once at start.
    #[arg(long, env = "HBNODE_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,

    /// Refuse beats without a valid MAC (needs --key-file); refusals are counted by reason in
    /// /metrics (unauthenticated, unknown_key, bad_mac).
    #[arg(long, env = "HBNODE_REQUIRE_AUTH")]
    pub(crate) require_auth: bool,

    /// Most nodes the registry holds (at least 1).
    ///
    /// Policy when full: beats from ids the monitor does not know are refused and counted as
    /// `hbnode_datagrams_rejected_total{reason="registry_full"}`; known nodes are never evicted
    /// to make room, so a sender inventing ids cannot push real nodes out. Nodes leave the
    /// registry only by `--forget-after`.
    #[arg(long, env = "HBNODE_MAX_NODES", value_name = "N", default_value = "1048576",
        value_parser = clap::value_parser!(u64).range(1..=(1 << 32)))]
    pub(crate) max_nodes: u64,
    /// The regex that parses each `text+udp://` datagram (Circus's `pid;timestamp` by default).
    ///
    /// The node id is the named group `id` if the regex has one, else `pid`, else the source
    /// IP; a `pid` group is remembered as the node's pid (`HBNODE_PID` in hooks). A trailing
    /// newline is ignored. An invalid regex is a startup error.
    #[arg(
        long,
        env = "HBNODE_MSG_REGEX",
        value_name = "RE",
        default_value = hb_core::legacy::CIRCUS_REGEX
    )]
    pub(crate) msg_regex: String,

    /// The line each `json+tcp://` connection is greeted with (a newline is added).
    #[arg(
        long,
        env = "HBNODE_GREETING",
        value_name = "TEXT",
        default_value = "Welcome to the server!"
    )]
    pub(crate) greeting: String,

    /// Most simultaneous connections per `json+tcp://` listener; more are closed at once.
    #[arg(
        long,
        env = "HBNODE_MAX_CONNECTIONS",
        value_name = "N",
        default_value = "1024",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub(crate) max_connections: u32,

    /// Run CMD with `sh -c` on EVENT (an event name such as `down`, or `any`); repeatable.
    ///
    /// The command gets HBNODE_EVENT, HBNODE_NODE, HBNODE_ADDR, HBNODE_PID (when known),
    /// HBNODE_SILENCE_MS (down events), HBNODE_TIME in its environment and the event's JSON on
    /// stdin. Example (Circus's watchdog): `--on 'down=kill -9 $HBNODE_PID'`.
    #[arg(long = "on", env = "HBNODE_ON", value_name = "EVENT=CMD", value_parser = parse_hook)]
    pub(crate) on: Vec<HookSpec>,

    /// Kill a hook command still running after this long.
    #[arg(long, env = "HBNODE_HOOK_TIMEOUT", value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub(crate) hook_timeout: Duration,

    /// Most hook commands running at once; further events wait in a bounded queue.
    #[arg(
        long,
        env = "HBNODE_HOOK_CONCURRENCY",
        value_name = "N",
        default_value = "4",
        value_parser = clap::value_parser!(u32).range(1..=256)
    )]
    pub(crate) hook_concurrency: u32,

    /// An Alertmanager to send alerts to, as http://HOST:PORT (repeatable; each gets every
    /// alert).
    ///
    /// A down node fires `alertname="HbnodeNodeDown"` with a `node` label (and any
    /// `--alertmanager-label`s), re-sent every `--alertmanager-resend` while down and resolved
    /// when it returns. A probe in warning or error fires `alertname="HbnodeProbe"` with
    /// `node`, `probe` and `severity` (warning, critical) labels, resolved when it is ok again.
    /// The monitor's id is an annotation, so monitors deduplicate.
    #[arg(long, env = "HBNODE_ALERTMANAGER", value_name = "URL", value_delimiter = ',', value_parser = parse_http_url)]
    pub(crate) alertmanager: Vec<String>,

    /// How often firing alerts are re-sent (their endsAt is 4 × this ahead).
    #[arg(long, env = "HBNODE_ALERTMANAGER_RESEND", value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    pub(crate) alertmanager_resend: Duration,

    /// A static label added to every alert, as KEY=VALUE (repeatable).
    #[arg(long, env = "HBNODE_ALERTMANAGER_LABEL", value_name = "KEY=VALUE", value_delimiter = ',', value_parser = parse_label)]
    pub(crate) alertmanager_label: Vec<(String, String)>,

    /// A URL to POST every event's JSON to, as http://HOST:PORT/PATH (repeatable).
    #[arg(long, env = "HBNODE_WEBHOOK", value_name = "URL", value_delimiter = ',', value_parser = parse_http_url)]
    pub(crate) webhook: Vec<String>,

    /// A listener with its own detector settings, as 'URL key=value …' (repeatable).
    ///
    /// Keys: detector, timeout, phi-threshold, acceptable-pause, chen-margin; unset ones come
    /// from the monitor's flags. E.g. `--listener 'pyhb+udp://0.0.0.0:43278 timeout=15s'`. In
    /// the config file: `[[monitor.listener]]` tables with `url` and these keys.
    #[arg(long, env = "HBNODE_LISTENER", value_name = "SPEC", value_parser = listener::parse_listener)]
    pub(crate) listener: Vec<listener::ListenerSpec>,

    /// Warning and error ranges for a sensor probe, as 'PROBE key=value …' (repeatable).
    ///
    /// Keys: warning, error (or critical) — Nagios ranges: `10` alerts outside 0..10, `10:`
    /// below 10, `~:10` above 10, `10:20` outside 10..20, `@10:20` inside it —, nodes (an id
    /// or glob; default every node), hysteresis. PROBE may be a glob (`disk.*`). For each node
    /// and probe the most specific rule wins (exact id, then glob, then default; first listed
    /// among equals). Probes with no rule take the sender's status (a plugin's exit code).
    /// E.g. `--threshold 'load1 warning=4 error=8' --threshold 'load1 error=32 nodes=db-*'`.
    /// In the config file: `[[monitor.threshold]]` tables with `probe` and these keys.
    #[arg(long, env = "HBNODE_THRESHOLD", value_name = "SPEC", value_parser = parse_threshold)]
    pub(crate) threshold: Vec<hb_core::probe::ProbeRule>,

    /// Consecutive readings that must agree before a probe changes state (1 = at once).
    ///
    /// A `probe_warning`, `probe_error`, `probe_ok` or `probe_unknown` event marks each change.
    /// A rule's own `hysteresis=` key overrides this for its probes.
    #[arg(long, env = "HBNODE_PROBE_HYSTERESIS", value_name = "N", default_value = "3",
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) probe_hysteresis: u32,

    /// A central schedule for nodes matching a glob, as 'NODES key=value …' (repeatable;
    /// the first matching rule wins).
    ///
    /// Keys: period (the beat period), sensors (NAME@DUR,… the sensors to run and how
    /// often), redirect (HOST:PORT of another monitor, resolved at start). Acks carry the
    /// schedule until the node runs it, so the beater needs acks (`--ack-timeout`; without,
    /// it asks every 10s). E.g. `--schedule 'web-* period=2s sensors=load@10s,memory@1m'`. In
    /// the config file: `[[monitor.schedule]]` tables with `nodes` and these keys.
    #[arg(long, env = "HBNODE_SCHEDULE", value_name = "SPEC", value_parser = schedule::parse_schedule)]
    pub(crate) schedule: Vec<schedule::ScheduleSpec>,

    /// The SQLite store for the node registry, event history and readings, or `none`
    /// [default: hbnode.db in $STATE_DIRECTORY, else in ~/.local/state/hbnode].
    ///
    /// On start the monitor reloads the registry from it: a node that was alive and stays
    /// silent is reported down one detector bound after the start, nodes already down are not
    /// announced again. Writes happen on their own thread in batched transactions: a slow or
    /// failing disk drops and counts rows (hbnode_store_* metrics), never detections. A file
    /// that is not an hbnode store is refused, never overwritten. See docs/guides/history.md.
    #[arg(long, env = "HBNODE_DB", value_name = "PATH")]
    pub(crate) db: Option<DbPath>,

    /// How long the store keeps events and readings (older ones are pruned every 10 minutes).
    #[arg(long, env = "HBNODE_RETENTION", value_name = "DUR", default_value = "7d", value_parser = parse_retention)]
    pub(crate) retention: Duration,
}

/// Parses `--threshold 'PROBE key=value …'`.
fn parse_threshold(s: &str) -> Result<hb_core::probe::ProbeRule, String> {
    s.parse().map_err(|e| format!("`{s}`: {e}"))
}

/// The detector flags `monitor` and `peer` share.
#[derive(Clone, Copy, Debug, Args)]
pub(crate) struct DetectorArgs {
    /// The failure detector applied to every node.
    ///
    /// fixed: down after `--timeout` of silence. phi: φ-accrual (`--phi-threshold`,
    /// `--acceptable-pause`). chen: expected arrival plus `--chen-margin`.
    #[arg(
        long = "detector",
        env = "HBNODE_DETECTOR",
        value_name = "DETECTOR",
        value_enum,
        default_value = "fixed"
    )]
    pub(crate) kind: DetectorKind,

    /// Silence after which a node is down (fixed detector) [default: 5s].
    #[arg(long, env = "HBNODE_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,

    /// φ at which a node is down (phi detector; 0 < F ≤ 100) [default: 8].
    #[arg(long, env = "HBNODE_PHI_THRESHOLD", value_name = "F")]
    pub(crate) phi_threshold: Option<f64>,

    /// Silence tolerated on top of the mean interval (phi detector) [default: 0s].
    #[arg(long, env = "HBNODE_ACCEPTABLE_PAUSE", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) acceptable_pause: Option<Duration>,

    /// Safety margin after the expected arrival (chen detector) [default: 500ms].
    #[arg(long, env = "HBNODE_CHEN_MARGIN", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) chen_margin: Option<Duration>,
}

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
    /// answers). A file readable by every user is refused.
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

    /// How long to collect answers.
    #[arg(long, env = "HBNODE_WAIT", value_name = "DUR", default_value = "500ms", value_parser = parse_duration)]
    pub(crate) wait: Duration,

    /// Print the members as a JSON array instead of a table.
    #[arg(long, env = "HBNODE_JSON")]
    pub(crate) json: bool,
}

/// Parses `--retention` (at least a minute).
pub(crate) fn parse_retention(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(60) {
        return Err(format!("`{s}`: the retention must be at least 1m"));
    }
    Ok(d)
}

/// `--db`: a path, or `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DbPath {
    /// `--db none`: no store.
    Off,
    /// This file.
    File(PathBuf),
}

impl FromStr for DbPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("`--db` needs a path or `none`".into()),
            "none" => Ok(Self::Off),
            p => Ok(Self::File(PathBuf::from(p))),
        }
    }
}

/// Flags of `hbnode history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The store to read (default: the monitor's default store); conflicts with --http.
    #[arg(long, env = "HBNODE_DB", value_name = "PATH")]
    pub(crate) db: Option<DbPath>,

    /// Ask a running monitor's HTTP API (HOST:PORT) instead of reading a file.
    #[arg(long, value_name = "ADDR", conflicts_with = "db")]
    pub(crate) http: Option<String>,

    /// Only this node's events.
    #[arg(long, value_name = "ID")]
    pub(crate) node: Option<String>,

    /// How far back to look (e.g. 30m, 6h, 7d).
    #[arg(long, value_name = "DUR", default_value = "24h", value_parser = parse_duration)]
    pub(crate) since: Duration,

    /// One JSON object per line (time, at_ms, node, event, record) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Flags of `hbnode readings`.
#[derive(Debug, Args)]
pub(crate) struct ReadingsArgs {
    /// The store to read (default: the monitor's default store); conflicts with --http.
    #[arg(long, env = "HBNODE_DB", value_name = "PATH")]
    pub(crate) db: Option<DbPath>,

    /// Ask a running monitor's HTTP API (HOST:PORT) instead of reading a file.
    #[arg(long, value_name = "ADDR", conflicts_with = "db")]
    pub(crate) http: Option<String>,

    /// The node.
    #[arg(long, value_name = "ID", required = true)]
    pub(crate) node: String,

    /// The probe (e.g. load1).
    #[arg(long, value_name = "NAME", required = true)]
    pub(crate) probe: String,

    /// How far back to look (e.g. 30m, 6h, 7d).
    #[arg(long, value_name = "DUR", default_value = "1h", value_parser = parse_duration)]
    pub(crate) since: Duration,

    /// One JSON object per line (time, at_ms, node, probe, value, status) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,

    /// Also draw the readings as an SVG line chart to FILE (the table is then not printed).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
}

/// Checks that `url` is a plain `http://` URL with a host.
pub(crate) fn validate_http_url(url: &str) -> Result<awc::http::Uri, String> {
    let uri: awc::http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(format!(
            "`{url}` is not an http://HOST:PORT URL (https is not supported; use a local proxy)"
        ));
    }
    Ok(uri)
}

/// Parses `--alertmanager-label KEY=VALUE` (KEY a Prometheus label name other than
/// `alertname` and `node`).
pub(crate) fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE (e.g. team=infra)"))?;
    let valid = k
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if k.is_empty() || !valid || k.starts_with("__") {
        return Err(format!(
            "`{k}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        ));
    }
    if k == "alertname" || k == "node" {
        return Err(format!("the `{k}` label is set by hbnode"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Parses a plain `http://` URL (the Alertmanager and webhook actions).
pub(crate) fn parse_http_url(s: &str) -> Result<String, String> {
    validate_http_url(s).map(|_| s.to_owned())
}

/// The protocol a `--listen` URL speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListenKind {
    /// `udp://`: hbnode's own beats.
    Udp,
    /// `pyhb+udp://`: PyHeartbeat.
    PyHb,
    /// `text+udp://`: one regex-parsed line per datagram (Circus).
    Text,
    /// `json+tcp://`: the TCP/JSON heartbeat.
    JsonTcp,
}

/// A `--listen` URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListenUrl {
    /// The protocol.
    pub(crate) kind: ListenKind,
    /// Where to bind.
    pub(crate) addr: SocketAddr,
}

/// An `--on EVENT=CMD` hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HookSpec {
    /// The event name, or `any`.
    pub(crate) event: String,
    /// The shell command.
    pub(crate) command: String,
}

/// Every monitor event name, as in the JSON event stream (and what `--on` accepts besides `any`).
pub(crate) const EVENT_NAMES: [&str; 10] = [
    "joined",
    "down",
    "up",
    "restarted",
    "left",
    "forgotten",
    "probe_ok",
    "probe_warning",
    "probe_error",
    "probe_unknown",
];

/// Parses `--on EVENT=CMD`.
pub(crate) fn parse_hook(s: &str) -> Result<HookSpec, String> {
    hook_for(s, &EVENT_NAMES, "an event", "down=kill -9 $HBNODE_PID")
}

/// Parses `EVENT=CMD` with EVENT `any` or one of `events`.
fn hook_for(s: &str, events: &[&str], what: &str, example: &str) -> Result<HookSpec, String> {
    let (event, command) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not EVENT=CMD (e.g. '{example}')"))?;
    let event = event.trim();
    if event != "any" && !events.contains(&event) {
        return Err(format!(
            "`{event}` is not {what}: use any, {}",
            events.join(", ")
        ));
    }
    if command.trim().is_empty() {
        return Err(format!("`{s}` has an empty command"));
    }
    Ok(HookSpec {
        event: event.to_owned(),
        command: command.to_owned(),
    })
}

/// Flags of `hbnode beat`.
#[derive(Debug, Args)]
pub(crate) struct BeatArgs {
    /// A monitor to beat to, as HOST:PORT (repeatable; every monitor gets every beat).
    #[arg(
        long,
        env = "HBNODE_TO",
        value_name = "HOST:PORT",
        required = true,
        value_delimiter = ','
    )]
    pub(crate) to: Vec<String>,

    /// Time between beats.
    #[arg(long, env = "HBNODE_PERIOD", value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub(crate) period: Duration,

    /// This node's id (default: the hostname).
    #[arg(long, env = "HBNODE_ID", value_name = "NAME")]
    pub(crate) id: Option<String>,

    /// Random spread of each interval, in percent of the period (0–50), so a fleet started
    /// together does not beat in lockstep.
    #[arg(long, env = "HBNODE_JITTER", value_name = "PCT", default_value = "5", value_parser = parse_percent)]
    pub(crate) jitter: f64,

    /// Ask monitors for acks and warn when one stays silent this long (default: no acks).
    #[arg(long, env = "HBNODE_ACK_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) ack_timeout: Option<Duration>,

    /// Keys to sign beats with, one `hbk1:` line each (see `hbnode keygen`).
    ///
    /// Beats are signed with the first key; acks are accepted under any key in the file, and
    /// unsigned or wrongly signed acks are ignored. A file readable by every user is refused.
    #[arg(long, env = "HBNODE_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Beat only to the first healthy monitor in `--to` order instead of to all; return to the
    /// primary when it acknowledges again (needs `--ack-timeout`).
    #[arg(long, env = "HBNODE_FAILOVER")]
    pub(crate) failover: bool,

    /// Run CMD with `sh -c` on EVENT: `monitor_lost`, `monitor_back` or `any` (repeatable).
    ///
    /// The command gets HBNODE_EVENT, HBNODE_NODE (this node), HBNODE_MONITOR and HBNODE_ADDR
    /// (the monitor's address), HBNODE_SILENCE_MS (monitor_lost), HBNODE_TIME in its
    /// environment and the event as JSON on stdin. Needs `--ack-timeout`.
    #[arg(long = "on", env = "HBNODE_BEAT_ON", value_name = "EVENT=CMD", value_parser = parse_beat_hook)]
    pub(crate) on: Vec<HookSpec>,

    /// Kill a hook command still running after this long.
    #[arg(long, env = "HBNODE_HOOK_TIMEOUT", value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub(crate) hook_timeout: Duration,

    /// Print monitor_lost / monitor_back events on stdout, as text or JSON lines (default:
    /// only logged). Needs `--ack-timeout`.
    #[arg(long, env = "HBNODE_BEAT_EVENTS", value_enum)]
    pub(crate) events: Option<EventFormat>,

    /// A sensor whose readings ride on beats: load, memory, processes or
    /// 'cmd:NAME=PLUGIN ARGS' (repeatable; `NAME@DUR` sets its interval, default 10s).
    ///
    /// Built-ins read /proc: `load` (load1, load5, load15), `processes` (procs_running,
    /// procs_total), `memory` (mem_used_bytes, mem_free_bytes, mem_used_pct, swap_used_pct).
    /// `cmd:` runs a Nagios-compatible plugin without a shell (arguments split like a shell
    /// would; write `sh -c '…'` for one): probe NAME is its exit code (0–3), NAME.LABEL each
    /// performance data value. A monitor's `--schedule` may change which run and how often.
    /// See docs/guides/sensors.md.
    #[arg(long, env = "HBNODE_SENSOR", value_name = "SPEC", value_parser = crate::sensors::spec::parse_sensor)]
    pub(crate) sensor: Vec<crate::sensors::spec::SensorSpec>,

    /// Kill a `cmd:` sensor's plugin still running after this long (its status is then 3,
    /// unknown).
    #[arg(long, env = "HBNODE_SENSOR_TIMEOUT", value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub(crate) sensor_timeout: Duration,
}

/// Event names `hbnode beat --on` accepts besides `any`.
pub(crate) const BEAT_HOOK_EVENTS: [&str; 2] = ["monitor_lost", "monitor_back"];

/// Parses `hbnode beat --on EVENT=CMD`.
pub(crate) fn parse_beat_hook(s: &str) -> Result<HookSpec, String> {
    hook_for(
        s,
        &BEAT_HOOK_EVENTS,
        "a beater event",
        "monitor_lost=logger lost",
    )
}

/// Flags of `hbnode status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The monitor's HTTP address.
    #[arg(
        long,
        env = "HBNODE_HTTP",
        value_name = "ADDR",
        default_value = "127.0.0.1:43280"
    )]
    pub(crate) http: String,

    /// Print the monitor's JSON node list instead of a table.
    #[arg(long, env = "HBNODE_JSON")]
    pub(crate) json: bool,
}

/// Flags of `hbnode demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many beaters to run (1–200).
    #[arg(
        long,
        env = "HBNODE_NODES",
        value_name = "N",
        default_value = "5",
        value_parser = clap::value_parser!(u16).range(1..=200)
    )]
    pub(crate) nodes: u16,
}

/// Flags of `hbnode keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// The new key's id, sent in clear with every signed datagram (default: random).
    #[arg(long, value_name = "N")]
    pub(crate) key_id: Option<u32>,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `--detector`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DetectorKind {
    /// Fixed timeout.
    Fixed,
    /// φ-accrual.
    Phi,
    /// Chen–Toueg–Aguilera NFD-E.
    Chen,
}

/// `--events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EventFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (schema: docs/events.md).
    Json,
}

/// `--http`: an address, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HttpAddr(pub(crate) Option<SocketAddr>);

impl FromStr for HttpAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Self(None));
        }
        s.parse()
            .map(|a| Self(Some(a)))
            .map_err(|_| format!("`{s}` is not IP:PORT (e.g. 127.0.0.1:43280) or `off`"))
    }
}

/// Parses `SCHEME://HOST:PORT` (HOST an IP address, IPv6 in brackets); the schemes are
/// `udp`, `pyhb+udp`, `text+udp` and `json+tcp`.
pub(crate) fn parse_listen(s: &str) -> Result<ListenUrl, String> {
    let schemes = [
        ("udp://", ListenKind::Udp),
        ("pyhb+udp://", ListenKind::PyHb),
        ("text+udp://", ListenKind::Text),
        ("json+tcp://", ListenKind::JsonTcp),
    ];
    let Some((kind, rest)) = schemes
        .iter()
        .find_map(|(p, k)| s.strip_prefix(p).map(|r| (*k, r)))
    else {
        return Err(format!(
            "`{s}` is not a listen URL: use udp://IP:PORT (e.g. udp://0.0.0.0:43278), \
             pyhb+udp://, text+udp:// or json+tcp://"
        ));
    };
    let addr = rest
        .parse()
        .map_err(|_| format!("`{rest}` is not IP:PORT (e.g. 0.0.0.0:43278 or [::]:43278)"))?;
    Ok(ListenUrl { kind, addr })
}

/// Parses a duration such as `250ms`, `5s` or `1m 30s`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 250ms or 5s: {e}"))
}

/// Parses a byte size: a number with an optional `KiB`, `MiB` or `GiB` suffix.
pub(crate) fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim(), *m)))
    .unwrap_or((t, 1usize));
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size like 8MiB, 512KiB or 65536"))
}

/// Parses a percentage from 0 to 50 (`5` or `5%`) into a fraction.
pub(crate) fn parse_percent(s: &str) -> Result<f64, String> {
    let n: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage like 5 or 5%"))?;
    if (0.0..=50.0).contains(&n) {
        Ok(n / 100.0)
    } else {
        Err(format!("jitter must be between 0% and 50%, not {s}"))
    }
}
