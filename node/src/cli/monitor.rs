//! Flags of `hbnode monitor`, and the detector flags `monitor` and `peer` share.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::detector::DetectorArgs;
use super::store::{DbPath, parse_retention};
use super::values::{
    EventFormat, HookSpec, HttpAddr, ListenUrl, parse_bytes, parse_duration, parse_hook,
    parse_http_url, parse_label, parse_listen,
};

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

    /// The isolation guard (the monitor's own blindness, reported once).
    #[command(flatten)]
    pub(crate) isolation: super::isolation::IsolationArgs,

    /// Witness mode (other monitors confirm this one's verdicts).
    #[command(flatten)]
    pub(crate) witness: super::witness::WitnessArgs,

    /// Address of the HTTP API (/metrics, /v1/nodes, /v1/summary, /v1/events, /v1/history, /healthz, the status page at /), or `off`.
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
    /// warning when it is smaller than asked. A small buffer drops beats under bursts: the
    /// kernel's drops are counted in hbnode_receive_buffer_drops_total{listener}.
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
    /// and `#` comments are ignored. A file other users can read, or group or others can write, is refused. Without a key
    /// file beats are unauthenticated and the monitor says so once at start.
    #[arg(long, env = "HBNODE_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,

    /// Refuse beats without a valid MAC (needs --key-file); refusals are counted by reason in
    /// /metrics (unauthenticated, unknown_key, bad_mac).
    ///
    /// The legacy protocols (pyhb+udp, text+udp, json+tcp) carry no MAC: with this flag a
    /// monitor with such a listener refuses to start, unless that listener is opted out
    /// explicitly with `--listener 'URL unauthenticated=yes'` (logged at start and shown as
    /// `hbnode_listener_unauthenticated{listener="URL"} 1` in /metrics).
    #[arg(long, env = "HBNODE_REQUIRE_AUTH")]
    pub(crate) require_auth: bool,

    /// Most nodes the registry holds (1 to 4294967295).
    ///
    /// Policy when full: beats from ids the monitor does not know are refused and counted as
    /// `hbnode_datagrams_rejected_total{reason="registry_full"}`; known nodes are never evicted
    /// to make room, so a sender inventing ids cannot push real nodes out. Nodes leave the
    /// registry only by `--forget-after`.
    #[arg(long, env = "HBNODE_MAX_NODES", value_name = "N", default_value = "1048576",
        value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    pub(crate) max_nodes: u64,
    /// The regex that parses each `text+udp://` datagram (Circus's `pid;timestamp` by default).
    ///
    /// The node id is the named group `id` if the regex has one, else `pid`, else the source
    /// IP; a `pid` group is remembered as the node's claimed pid (`HBNODE_PID` in hooks once
    /// verified, see --on). A trailing
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

    /// Close a `json+tcp://` connection that sends nothing for this long (more than 0, at most
    /// 1 day).
    ///
    /// Silence on a TCP heartbeat is a failure: like any closed connection, the nodes it
    /// carried are down at once. Idle closes are counted in
    /// `hbnode_tcp_connections_idle_closed_total`; without this, idle sockets could hold every
    /// --max-connections slot and lock real clients out.
    #[arg(
        long,
        env = "HBNODE_TCP_IDLE_TIMEOUT",
        value_name = "DUR",
        default_value = "60s",
        value_parser = super::values::parse_tcp_idle_timeout
    )]
    pub(crate) tcp_idle_timeout: Duration,

    /// Run CMD with `sh -c` on EVENT (an event name such as `down`, or `any`); repeatable.
    ///
    /// The command gets HBNODE_EVENT, HBNODE_NODE, HBNODE_ADDR, HBNODE_SILENCE_MS (down,
    /// unreachable), HBNODE_REASON (down), HBNODE_TIME in its environment and the event's JSON
    /// on stdin; witness mode adds HBNODE_MONITOR (unreachable: this monitor; witness_down,
    /// witness_up: the witness), HBNODE_MONITORS_UP and HBNODE_NEEDED (quorum_lost,
    /// quorum_regained) and HBNODE_LASTED_MS (reachable). A legacy node's
    /// pid is HBNODE_CLAIMED_PID, and HBNODE_PID only once verified: the sender is on
    /// loopback and the process owns the socket its beats come from and started before them.
    /// Of the monitor's own environment the command inherits only PATH, HOME, USER, LOGNAME,
    /// LANG, LC_ALL and TZ. Example (Circus's watchdog):
    /// `--on 'down=test -n "$HBNODE_PID" && kill -9 "$HBNODE_PID"'`.
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
    /// The monitor's id is an annotation, so monitors deduplicate. Witness mode adds
    /// `HbnodeQuorumLost{monitor}` and `HbnodeWitnessDown{monitor,witness}` warnings; an
    /// `unreachable` node fires nothing (docs/guides/witnesses.md).
    #[arg(long, env = "HBNODE_ALERTMANAGER", value_name = "URL", value_delimiter = ',', value_parser = parse_http_url)]
    pub(crate) alertmanager: Vec<String>,

    /// How often firing alerts are re-sent (their endsAt is 4 × this ahead); at most 1 day.
    #[arg(long, env = "HBNODE_ALERTMANAGER_RESEND", value_name = "DUR", default_value = "60s", value_parser = super::values::parse_resend)]
    pub(crate) alertmanager_resend: Duration,

    /// A static label added to every alert, as KEY=VALUE (repeatable).
    #[arg(long, env = "HBNODE_ALERTMANAGER_LABEL", value_name = "KEY=VALUE", value_delimiter = ',', value_parser = parse_label)]
    pub(crate) alertmanager_label: Vec<(String, String)>,

    /// A URL to POST every event's JSON to, as http://HOST:PORT/PATH (repeatable).
    #[arg(long, env = "HBNODE_WEBHOOK", value_name = "URL", value_delimiter = ',', value_parser = parse_http_url)]
    pub(crate) webhook: Vec<String>,

    /// A listener with its own detector settings, as 'URL key=value …' (repeatable).
    ///
    /// Keys: detector, timeout, phi-threshold, acceptable-pause, chen-margin, budget; unset ones
    /// come from the monitor's flags. `unauthenticated=yes` opts a legacy listener (no MAC in its
    /// protocol) out of --require-auth. E.g. `--listener 'pyhb+udp://0.0.0.0:43278 timeout=15s'`. In
    /// the config file: `[[monitor.listener]]` tables with `url` and these keys.
    #[arg(long, env = "HBNODE_LISTENER", value_name = "SPEC", value_parser = super::listener::parse_listener)]
    pub(crate) listener: Vec<super::listener::ListenerSpec>,

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
    #[arg(long, env = "HBNODE_SCHEDULE", value_name = "SPEC", value_parser = super::schedule::parse_schedule)]
    pub(crate) schedule: Vec<super::schedule::ScheduleSpec>,

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
