//! `cargo xtask dist`: a release tarball for the host target,
//! `target/dist/hbnode-<version>-<target>.tar.gz`, holding
//!
//! ```text
//! hbnode-<version>-<target>/
//!   bin/hbnode
//!   hbnode.toml                       example config (dist/hbnode.toml)
//!   systemd/hbnode-monitor.service    hardened units (dist/systemd/)
//!   systemd/hbnode-beat.service
//!   prometheus/hbnode-*.yml, tests/     alert and recording rules, their promtool tests
//!   grafana/hbnode.json               the dashboard
//!   alertmanager/hbnode-inhibit.yml   the inhibit rule folding a zone's node pages into one
//!   man/man1/hbnode.1, hbnode-*.1     from `hbnode man --out-dir`
//!   completions/hbnode.bash, _hbnode, hbnode.fish
//!   README.md CHANGELOG.md LICENSE-* docs/*.md docs/guides/*.md
//! ```
//!
//! Man pages and completions are produced by running the freshly built binary, so they match
//! it exactly. Needs `tar` and `gzip` on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail, ensure};

const USAGE: &str = "usage: cargo xtask dist\n\n\
Builds hbnode in release mode for the host and packs it, with its systemd units, man pages,\n\
shell completions and an example config, into target/dist/hbnode-<version>-<target>.tar.gz.";

/// Runs `cargo xtask dist`.
pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    match args {
        [] => {}
        [h] if matches!(h.as_str(), "-h" | "--help" | "help") => {
            println!("{USAGE}");
            return Ok(());
        }
        other => bail!("unexpected arguments {other:?}\n\n{USAGE}"),
    }
    let root = crate::paths::root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--release",
        "--locked",
        "-p",
        "hb-node",
        "--bin",
        "hbnode",
    ]))?;
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target_dir.join("release").join("hbnode");
    ensure!(bin.exists(), "{} was not built", bin.display());

    let version = output(Command::new(&bin).arg("--version"))?;
    let version = version
        .strip_prefix("hbnode ")
        .with_context(|| format!("unexpected `hbnode --version` output: {version}"))?
        .to_owned();
    let triple = host_triple()?;
    let name = format!("hbnode-{version}-{triple}");
    let dist = target_dir.join("dist");
    let stage = dist.join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .with_context(|| format!("cannot clear {}", stage.display()))?;
    }
    for sub in [
        "bin",
        "systemd",
        "prometheus/tests",
        "grafana",
        "alertmanager",
        "man/man1",
        "completions",
        "docs/guides",
    ] {
        mkdir(&stage.join(sub))?;
    }

    copy(&bin, &stage.join("bin/hbnode"))?;
    copy(&root.join("dist/hbnode.toml"), &stage.join("hbnode.toml"))?;
    for unit in ["hbnode-monitor.service", "hbnode-beat.service"] {
        copy(
            &root.join("dist/systemd").join(unit),
            &stage.join("systemd").join(unit),
        )?;
    }
    for file in ["README.md", "CHANGELOG.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        copy(&root.join(file), &stage.join(file))?;
    }
    for dir in [
        "dist/prometheus",
        "dist/prometheus/tests",
        "dist/grafana",
        "dist/alertmanager",
        "docs",
        "docs/guides",
    ] {
        let into = stage.join(dir.strip_prefix("dist/").unwrap_or(dir));
        for file in files(&root.join(dir))? {
            let name = file.file_name().context("file name")?;
            copy(&file, &into.join(name))?;
        }
    }

    run(Command::new(&bin)
        .args(["man", "--out-dir"])
        .arg(stage.join("man/man1")))?;
    for (shell, file) in [
        ("bash", "hbnode.bash"),
        ("zsh", "_hbnode"),
        ("fish", "hbnode.fish"),
    ] {
        let script = output(Command::new(&bin).args(["completions", shell]))?;
        std::fs::write(stage.join("completions").join(file), script + "\n")
            .with_context(|| format!("cannot write the {shell} completions"))?;
    }

    let tarball = dist.join(format!("{name}.tar.gz"));
    run(Command::new("tar")
        .arg("-C")
        .arg(&dist)
        .args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-czf",
        ])
        .arg(&tarball)
        .arg(&name))?;
    println!("{}", tarball.display());
    Ok(())
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let info = output(Command::new(rustc).arg("-vV"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` printed no `host:` line")
}

/// The regular files directly in `dir`, sorted.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn mkdir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed: {status}");
    Ok(())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .map(|s| s.trim_end().to_owned())
        .with_context(|| format!("{cmd:?} printed non-UTF-8"))
}
