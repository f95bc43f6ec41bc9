//! The `hbnode` binary's command line: help, errors and config files.
//!
//! (Its presence also makes `cargo test --workspace` build the binary that hb-tests runs.)

use std::process::Command;

fn hbnode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hbnode"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run hbnode")
}

#[test]
fn help_lists_every_subcommand() {
    let out = hbnode(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["monitor", "beat", "status", "demo"] {
        assert!(text.contains(sub), "{text}");
    }
}

#[test]
fn bad_duration_is_a_clear_error_with_nonzero_exit() {
    let out = hbnode(&["monitor", "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("soon") && err.contains("duration"), "{err}");
}

#[test]
fn detector_flag_for_another_detector_is_refused() {
    let out = hbnode(&[
        "monitor",
        "--detector",
        "phi",
        "--timeout",
        "1s",
        "--http",
        "off",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--timeout applies to --detector fixed only"),
        "{err}"
    );
}

#[test]
fn unknown_config_key_is_an_error_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("hbnode-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[monitor]\ntimout = \"1s\"\n").expect("write");
    let out = hbnode(&["monitor", "--config", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timout") && err.contains("timeout"), "{err}");
}

#[test]
fn status_without_a_monitor_explains_what_to_do() {
    let out = hbnode(&["status", "--http", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hbnode monitor"), "{err}");
}

#[test]
fn environment_variables_set_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_hbnode"))
        .args(["monitor", "--http", "off"])
        .env("HBNODE_TIMEOUT", "eventually")
        .output()
        .expect("run hbnode");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("eventually"), "{err}");
}

#[test]
fn plan_prints_the_smallest_timeout_for_the_target() {
    let out = hbnode(&[
        "plan",
        "--period",
        "1s",
        "--loss",
        "1%",
        "--delay",
        "normal:20ms,10ms",
        "--traces",
        "0",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Four consecutive losses at 1% (1e-8 per beat) are needed for ≤ 1 false alarm per
    // host-year at 1 s beats: the timeout lies just above four periods plus the jitter.
    let t = v["timeout_s"].as_f64().unwrap();
    assert!((4.0..4.2).contains(&t), "timeout {t}");
    assert!(v["predicted_false_alarms_per_host_year"].as_f64().unwrap() <= 1.0);
}

#[test]
fn plan_refuses_an_impossible_loss() {
    let out = hbnode(&["plan", "--loss", "150%"]);
    assert_eq!(out.status.code(), Some(2));
}
