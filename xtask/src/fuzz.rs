//! `cargo xtask fuzz [--time 60s] [--replay] [TARGET…]`
//!
//! - Default: runs every cargo-fuzz target (or the named ones) for `--time` each on the stable
//!   toolchain (`RUSTC_BOOTSTRAP=1`), growing the committed corpus in `fuzz/corpus/TARGET`, and
//!   prints the executions each target ran. Installs cargo-fuzz if it is missing.
//! - `--replay`: what CI runs. Builds the targets with plain cargo (no cargo-fuzz, no
//!   sanitizer) and executes every corpus and regression input once (`-runs=0`); a crash fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let mut secs = 60u64;
    let mut replay = false;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => secs = parse_secs(it.next().context("--time needs a duration like 60s")?)?,
            "--replay" => replay = true,
            "-h" | "--help" => {
                println!("usage: cargo xtask fuzz [--time 60s] [--replay] [TARGET…]");
                return Ok(());
            }
            t if !t.starts_with('-') => targets.push(t.to_string()),
            other => bail!("unknown flag {other}"),
        }
    }
    let root = crate::paths::root();
    let fuzz = root.join("fuzz");
    if targets.is_empty() {
        targets = all_targets(&fuzz)?;
    }
    if replay {
        replay_all(&fuzz, &targets)
    } else {
        fuzz_all(&fuzz, &targets, secs)
    }
}

fn parse_secs(s: &str) -> anyhow::Result<u64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().with_context(|| format!("bad duration {s:?}"))?;
    Ok(match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => bail!("bad duration {s:?}: use s, m or h"),
    })
}

fn all_targets(fuzz: &Path) -> anyhow::Result<Vec<String>> {
    let mut t: Vec<String> = std::fs::read_dir(fuzz.join("fuzz_targets"))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_string)
        })
        .collect();
    t.sort();
    Ok(t)
}

fn inputs(fuzz: &Path, target: &str) -> Vec<PathBuf> {
    ["corpus", "regressions"]
        .iter()
        .map(|d| fuzz.join(d).join(target))
        .filter(|p| p.is_dir())
        .collect()
}

fn replay_all(fuzz: &Path, targets: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--manifest-path"])
        .arg(fuzz.join("Cargo.toml"))
        .args(["--bins", "--target-dir"])
        // Always its own target dir, even under CARGO_TARGET_DIR: the binaries are run from it.
        .arg(fuzz.join("target"))
        .status()?;
    if !status.success() {
        bail!("building the fuzz targets failed");
    }
    for t in targets {
        let bin = fuzz.join("target/release").join(t);
        let dirs = inputs(fuzz, t);
        let files: usize = dirs
            .iter()
            .map(|d| std::fs::read_dir(d).map_or(0, |r| r.count()))
            .sum();
        let out = Command::new(&bin).arg("-runs=0").args(&dirs).output()?;
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            bail!("fuzz target {t} crashed on a committed input");
        }
        println!("fuzz replay: {t}: {files} inputs ok");
    }
    Ok(())
}

fn fuzz_all(fuzz: &Path, targets: &[String], secs: u64) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let have = Command::new(&cargo)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        println!("installing cargo-fuzz…");
        let ok = Command::new(&cargo)
            .args(["install", "cargo-fuzz", "--locked"])
            .status()?;
        if !ok.success() {
            bail!("cargo install cargo-fuzz failed");
        }
    }
    let mut rows = Vec::new();
    for t in targets {
        let corpus = fuzz.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        let out = Command::new(&cargo)
            .current_dir(fuzz.parent().unwrap_or(fuzz))
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--sanitizer", "none", t])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            .output()?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{log}");
            bail!(
                "fuzz target {t} failed: the crashing input is under fuzz/artifacts/{t}/; copy it to fuzz/regressions/{t}/ and fix the bug"
            );
        }
        let runs = log
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix("Done ")
                    .and_then(|r| r.split_whitespace().next())
            })
            .unwrap_or("?")
            .to_string();
        let corpus_n = std::fs::read_dir(&corpus)?.count();
        println!("fuzz: {t}: {runs} executions in {secs}s, corpus {corpus_n} inputs, no crash");
        rows.push((t.clone(), runs, corpus_n));
    }
    println!("\n| target | executions | corpus |\n|---|---|---|");
    for (t, runs, n) in rows {
        println!("| {t} | {runs} | {n} |");
    }
    Ok(())
}
