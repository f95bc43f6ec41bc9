//! `hbnode`: the cluster liveness monitor's binary.
//!
//! Receiver → Detector → Reporter actix actors around the sans-IO `hb_core::Monitor`, a
//! Beater actor around `hb_core::Beater`, an HTTP API, and the CLI. The folders are the code
//! map (ARCHITECTURE.md): parsing (`cli`) is kept apart from doing (`commands`), which starts
//! the actors (`runtime`) with their sockets (`net`, `legacy`), sinks (`sinks`), HTTP
//! (`http`), sensors (`sensors`) and store (`store`); `process` holds small process helpers.

mod cli;
mod commands;
mod http;
mod legacy;
mod net;
mod process;
mod runtime;
mod sensors;
mod sinks;
mod store;

use std::process::ExitCode;

use cli::config::ParseError;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match cli::config::parse_from(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(ParseError::Clap(e)) => e.exit(),
        Err(ParseError::Config(e)) => {
            eprintln!("hbnode: {e:#}");
            return ExitCode::from(2);
        }
    };
    process::logging::init(cli.log_format);
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
        Command::Monitor(a) => {
            commands::monitor::run(commands::monitor::MonitorSettings::from_args(a)?)
        }
        Command::Beat(a) => commands::beat::run(commands::beat::BeatSettings::from_args(a)?),
        Command::Status(a) => commands::status::run(&a),
        Command::Check(a) => Ok(commands::check::run(&a)),
        Command::Peer(a) => commands::peer::run(commands::peer::PeerSettings::from_args(a)?),
        Command::Peers(a) => commands::peers::run(&a),
        Command::History(a) => commands::history::history(&a),
        Command::Readings(a) => commands::history::readings(&a),
        Command::Demo(a) => commands::demo::run(a.nodes),
        Command::Plan(a) => commands::plan::run(&a),
        Command::Completions(a) => commands::docgen::completions(a.shell),
        Command::Man(a) => commands::docgen::man(a.out_dir.as_deref()),
        Command::ConfigReference => commands::docgen::print_config_reference(),
        Command::Keygen(a) => commands::keys::run(&a),
    }
}
