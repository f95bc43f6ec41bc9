//! Project automation: `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `test`    the whole test suite as CI runs it, installing the tools it needs
//! - `sim …`   loss/jitter experiments over hb-core (see `cargo xtask sim --help`)
//! - `bench …` benchmarks, written to BENCHMARKS.md
//! - `fuzz …`  cargo-fuzz targets: time-boxed runs, or `--replay` of the corpus (CI)
//! - `dist`    release tarball: binary, systemd units, man pages, completions, example config

use std::process::ExitCode;

mod bench;
mod dist;
mod fuzz;
mod paths;
mod sim;
mod test;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match cmd.as_str() {
        "sim" => sim::main(&rest),
        "fuzz" => fuzz::main(&rest),
        "bench" => bench::main(&rest),
        "dist" => dist::main(&rest),
        "test" => test::main(&rest),
        "stop-time" => bench::stop::main(&rest),
        "" | "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <test|sim|fuzz|bench|dist|stop-time> [args…]");
            Ok(())
        }
        other => Err(anyhow::anyhow!(
            "unknown xtask command {other:?}; try `cargo xtask help`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
