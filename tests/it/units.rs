//! Issue 9: the systemd units in `dist/systemd/` carry the hardening and watchdog settings, and
//! `systemd-analyze verify` accepts them (with `ExecStart=` pointed at the built binary) where
//! systemd is installed.

use std::path::Path;
use std::process::Command;

use hb_tests::hbnode;

const UNITS: [&str; 2] = ["hbnode-monitor.service", "hbnode-beat.service"];

fn unit(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dist/systemd")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn units_are_hardened_and_the_monitor_is_notify_with_a_watchdog() {
    for name in UNITS {
        let text = unit(name);
        for line in [
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "CapabilityBoundingSet=\n",
            "SystemCallFilter=@system-service",
            "MemoryDenyWriteExecute=yes",
            "RestrictAddressFamilies=",
            "Restart=on-failure",
        ] {
            assert!(text.contains(line), "{name} lacks {line:?}");
        }
    }
    let monitor = unit("hbnode-monitor.service");
    assert!(monitor.contains("Type=notify") && monitor.contains("WatchdogSec="));
    // Issue 6: the store's default place ($STATE_DIRECTORY) is writable under the hardening.
    assert!(
        monitor.lines().any(|l| l == "StateDirectory=hbnode"),
        "the monitor unit needs StateDirectory=hbnode for its store"
    );
}

#[test]
fn systemd_analyze_verifies_the_units() {
    let systemd_analyze = hb_tests::tool("systemd-analyze", "systemd");
    let dir = std::env::temp_dir().join(format!("hbnode-units-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let bin = hbnode();
    let mut paths = Vec::new();
    for name in UNITS {
        let text = unit(name).replace("/usr/bin/hbnode", bin.to_str().expect("utf-8 path"));
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write unit");
        paths.push(path);
    }
    let out = Command::new(&systemd_analyze)
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .expect("run systemd-analyze");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
