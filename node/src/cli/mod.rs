//! Low-level arguments: what the command line, `HBNODE_*` variables and the `--config` file
//! say, validated for syntax only. Nothing here touches the network or the clock; each
//! subcommand's `Settings::from_args` turns these into what it runs with.

pub(crate) mod beat;
pub(crate) mod config;
pub(crate) mod detector;
pub(crate) mod isolation;
pub(crate) mod listener;
pub(crate) mod monitor;
pub(crate) mod peer;
pub(crate) mod plan;
pub(crate) mod schedule;
pub(crate) mod store;
pub(crate) mod values;
pub(crate) mod witness;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use beat::BeatArgs;
use monitor::MonitorArgs;
use peer::{PeerArgs, PeersArgs};
use store::{HistoryArgs, ReadingsArgs};
use values::parse_duration;

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
    /// runs. Example: `hbnode plan --period 1s --loss 1% --delay normal:20ms,10ms`. From a
    /// recording instead: `hbnode plan --trace beats.hbtrace --budget 1/day` gives each node's
    /// budget-detector timeout and the false alarms it would have had.
    Plan(plan::PlanFlags),
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
    /// The secret comes from the operating system's randomness. `--out hb.keys` writes it to a
    /// new file only its owner can read (mode 0600); give that file to every beater and monitor
    /// with `--key-file`. A key file other users can read or write is refused.
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

    /// Write the key to FILE, created with mode 0600, instead of printing it.
    ///
    /// An existing FILE is refused (its keys may be in use) unless --force is given.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    /// With --out: replace an existing file (and make it mode 0600).
    #[arg(long, requires = "out")]
    pub(crate) force: bool,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}
