//! `hbnode`: the cluster liveness monitor's binary.
//!
//! Receiver → Detector → Reporter actix actors around the sans-IO `hb_core::Monitor`, a
//! Beater actor around `hb_core::Beater`, an HTTP API, and the CLI. Parsing (`cli`, `config`)
//! is kept apart from doing (`monitor`, `beat`, `peer`, `peers`, `status`, `demo`).

mod alertmanager;
mod batch;
mod beat;
mod beat_hooks;
mod beater;
mod check;
mod cli;
mod clock;
mod config;
mod demo;
mod detector;
mod docgen;
mod hooks;
mod http;
mod http_client;
mod http_post;
mod listener;
mod logging;
mod metrics;
mod monitor;
mod multicast;
mod notify;
mod page;
mod peer;
mod peers;
mod receiver;
mod record;
mod reporter;
mod schedule;
mod sensors;
mod sink;
mod stats;
mod status;
mod store;
mod table;
mod trace_recorder;
mod transport;
mod webhook;

mod keys;

#[cfg(test)]
mod tests;

use std::process::ExitCode;

use cli::{Cli, Command};
use config::ParseError;

fn main() -> ExitCode {
    let cli = match config::parse_from(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(ParseError::Clap(e)) => e.exit(),
        Err(ParseError::Config(e)) => {
            eprintln!("hbnode: {e:#}");
            return ExitCode::from(2);
        }
    };
    logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hbnode: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Turns validated arguments into settings and runs the subcommand.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Monitor(a) => monitor::run(monitor::MonitorSettings::from_args(a)?),
        Command::Beat(a) => beat::run(beat::BeatSettings::from_args(a)?),
        Command::Status(a) => status::run(&a),
        Command::Check(a) => Ok(check::run(&a)),
        Command::Peer(a) => peer::run(peer::PeerSettings::from_args(a)?),
        Command::Peers(a) => peers::run(&a),
        Command::History(a) => store::commands::history(&a),
        Command::Readings(a) => store::commands::readings(&a),
        Command::Demo(a) => demo::run(a.nodes),
        Command::Plan(a) => {
            hb_sim::cli::run_plan(&a, &|| {})?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions(a) => docgen::completions(a.shell),
        Command::Man(a) => docgen::man(a.out_dir.as_deref()),
        Command::ConfigReference => docgen::print_config_reference(),
        Command::Keygen(a) => keys::run(&a),
    }
}
