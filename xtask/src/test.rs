//! `cargo xtask test`: the whole test suite on a fresh machine, exactly what CI runs.
//!
//! 1. The system tools the end-to-end tests drive ([`TOOLS`]): missing ones are installed with
//!    apt-get when we are root (or have password-less sudo); otherwise it stops and prints the
//!    one `apt-get install` line that provides them. With `--no-install` it only checks.
//! 2. `rustfmt` and `clippy` (rustup components), then `cargo fmt --check`, `cargo clippy
//!    --workspace --all-targets -D warnings`, `cargo test --workspace`, `cargo xtask sim
//!    verify` (fresh seed, printed) and `cargo xtask fuzz --replay`.
//!
//! `.ci/run` is `cargo xtask test`; the README's test command is the same. A test whose tool is
//! missing anyway (say, run alone with `cargo test`) fails with the same install line: no test
//! skips silently.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

/// Every external program the test suite runs, and the Debian package that provides it.
pub(crate) const TOOLS: &[(&str, &str)] = &[
    ("prometheus-alertmanager", "prometheus-alertmanager"),
    ("amtool", "prometheus-alertmanager"),
    ("prometheus", "prometheus"),
    ("promtool", "prometheus"),
    ("chromium", "chromium"),
    ("python3", "python3"),
    ("ip", "iproute2"),
    ("systemd-analyze", "systemd"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
    ("kill", "procps"),
    // Nagios plugins live outside PATH.
    (
        "/usr/lib/nagios/plugins/check_load",
        "monitoring-plugins-basic",
    ),
    (
        "/usr/lib/nagios/plugins/check_disk",
        "monitoring-plugins-basic",
    ),
];

const USAGE: &str = "usage: cargo xtask test [--no-install]

Runs the whole test suite as CI does: installs the system tools the end-to-end tests need
(apt-get, as root or with password-less sudo; --no-install only checks and prints the install
line), then cargo fmt --check, clippy -D warnings, cargo test --workspace, sim verify and the
fuzz corpus replay.";

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let mut install = true;
    for a in args {
        match a.as_str() {
            "--no-install" => install = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let start = Instant::now();
    let step = |what: &str| println!("\n=== {what} ({}s)", start.elapsed().as_secs());

    step("system tools the end-to-end tests use");
    tools(install)?;

    step("toolchain components");
    // Absent rustup (a distribution's cargo): fmt and clippy below say what is missing.
    let _ = Command::new("rustup")
        .args(["component", "add", "rustfmt", "clippy"])
        .output();

    let root = crate::paths::root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let run = |what: &str, args: &[&str]| -> anyhow::Result<()> {
        step(what);
        let status = Command::new(&cargo)
            .args(args)
            .current_dir(&root)
            .status()
            .with_context(|| format!("run cargo {}", args.join(" ")))?;
        if !status.success() {
            bail!("`cargo {}` failed ({status})", args.join(" "));
        }
        Ok(())
    };
    run("cargo fmt --check", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("tests", &["test", "--workspace"])?;
    run(
        "simulator verification (theory, detection bounds, determinism, invariants)",
        &["xtask", "sim", "verify"],
    )?;
    run(
        "fuzz corpus and regression replay",
        &["xtask", "fuzz", "--replay"],
    )?;
    step("done");
    Ok(())
}

/// Where `program` is on `PATH` (or, given as an absolute path, whether it is there).
pub(crate) fn find(program: &str) -> Option<PathBuf> {
    if program.starts_with('/') {
        return Some(PathBuf::from(program)).filter(|p| p.is_file());
    }
    which::which(program).ok()
}

/// The Debian packages providing the [`TOOLS`] not on `PATH`, without repeats, in order.
fn missing_packages() -> Vec<&'static str> {
    let mut need: Vec<&str> = Vec::new();
    for (program, package) in TOOLS {
        if find(program).is_none() && !need.contains(package) {
            need.push(package);
        }
    }
    need
}

/// Makes sure every tool is there, installing the missing packages when allowed and possible.
fn tools(install: bool) -> anyhow::Result<()> {
    let need = missing_packages();
    if need.is_empty() {
        println!("all present: {}", names());
        return Ok(());
    }
    let line = format!(
        "apt-get install -y --no-install-recommends {}",
        need.join(" ")
    );
    let prefix = match privilege() {
        Some(p) if install && find("apt-get").is_some() => p,
        _ => bail!(
            "the end-to-end tests need {} (missing: {}). Install them with:\n    sudo {line}\n\
             (Debian/Ubuntu package names), then run `cargo xtask test` again",
            need.join(", "),
            TOOLS
                .iter()
                .filter(|(p, _)| find(p).is_none())
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    println!("installing: {}", need.join(" "));
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let argv: Vec<&str> = prefix.iter().chain(args).copied().collect();
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("run apt-get")?;
        if !status.success() {
            bail!("`{}` failed ({status})", argv.join(" "));
        }
        Ok(())
    };
    apt(&["apt-get", "update"])?;
    let mut install_args = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    install_args.extend(&need);
    apt(&install_args)?;
    let still = missing_packages();
    if !still.is_empty() {
        bail!(
            "installed, but still missing from PATH: packages {}",
            still.join(", ")
        );
    }
    Ok(())
}

/// How to run apt-get: directly as root (`[]`), through password-less sudo (`sudo -n env …`,
/// `sudo -n` fails rather than prompting), or not at all.
fn privilege() -> Option<Vec<&'static str>> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        return Some(Vec::new());
    }
    let sudo_ok = Command::new("sudo")
        .args(["-n", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    sudo_ok.then(|| vec!["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"])
}

fn names() -> String {
    TOOLS.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_package_and_appears_once() {
        for (i, (program, package)) in TOOLS.iter().enumerate() {
            assert!(!program.is_empty() && !package.is_empty());
            assert!(
                TOOLS[i + 1..].iter().all(|(p, _)| p != program),
                "{program} listed twice"
            );
        }
    }

    #[test]
    fn finds_a_program_that_exists_and_not_one_that_does_not() {
        assert!(find("sh").is_some());
        assert!(find("hbnode-no-such-program-xyz").is_none());
        assert!(find("/bin/sh").is_some());
        assert!(find("/hbnode/no/such/program").is_none());
    }
}
