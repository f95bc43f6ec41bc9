//! Flags of `hbnode beat`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::EventFormat;
use super::values::{HookSpec, hook_for, parse_duration, parse_percent};

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
    /// unsigned or wrongly signed acks are ignored. A file other users can read, or group or others can write, is refused.
    #[arg(long, env = "HBNODE_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,

    /// Follow the schedules and redirects of unsigned acks (closed networks only).
    ///
    /// By default a beater changes its period, its sensors or its monitor only on an ack
    /// signed with one of its keys (--key-file): anyone who can spoof a monitor's address
    /// could otherwise reschedule this node or move it to another monitor (which would then
    /// report it `left` at the real one). Unsigned acks still count as answers for
    /// --ack-timeout; the instructions they carry are ignored and logged once. Set this only
    /// where no one but the monitors can send to the node.
    #[arg(long, env = "HBNODE_TRUST_UNSIGNED_ACKS")]
    pub(crate) trust_unsigned_acks: bool,
    /// Beat only to the first healthy monitor in `--to` order instead of to all; return to the
    /// primary when it acknowledges again (needs `--ack-timeout`).
    #[arg(long, env = "HBNODE_FAILOVER")]
    pub(crate) failover: bool,

    /// Run CMD with `sh -c` on EVENT: `monitor_lost`, `monitor_back` or `any` (repeatable).
    ///
    /// The command gets HBNODE_EVENT, HBNODE_NODE (this node), HBNODE_MONITOR and HBNODE_ADDR
    /// (the monitor's address), HBNODE_SILENCE_MS (monitor_lost), HBNODE_TIME in its
    /// environment (of the beater's own, only PATH, HOME, USER, LOGNAME, LANG, LC_ALL and TZ)
    /// and the event as JSON on stdin. Needs `--ack-timeout`.
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
