//! The README's first command: `hbnode demo` runs its script on loopback and ends by itself
//! with a summary whose figures agree with each other.
//!
//! Its detection delays are measured from the fault on the demo's clock, and its events are
//! stamped by the monitor's (which reaches back for the embedded store): a delay longer than
//! the silence the monitor measured means the two clocks were mixed up — a bug this test found
//! (every delay read one second late).

use std::process::Command;
use std::time::{Duration, Instant};

use hb_tests::hbnode;

#[test]
fn the_demo_runs_its_script_and_its_summary_is_consistent() {
    let mut child = Command::new(hbnode())
        .arg("demo")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hbnode demo");
    // The script takes 14 s; a bounded wait, then the output.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hbnode demo did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("demo output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for kind in ["joined 5", "restarted 2", "left 1"] {
        assert!(text.contains(kind), "no `{kind}` in the summary:\n{text}");
    }
    assert!(
        text.contains("node-4   graceful stop") && text.contains("no down, as it should be"),
        "{text}"
    );
    // Each detected fault: 0 ≤ delay from the fault ≤ the silence the monitor measured (the
    // node's last beat came at or before its fault).
    let detections: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.contains("  delay "))
        .map(|l| {
            let num = |after: &str| -> f64 {
                let rest =
                    &l[l.find(after).unwrap_or_else(|| panic!("{after} in {l}")) + after.len()..];
                rest[..rest.find('s').expect("seconds")]
                    .trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}: {l}"))
            };
            (num("delay "), num("(silence "))
        })
        .collect();
    assert_eq!(
        detections.len(),
        2,
        "the crash and the network cut:\n{text}"
    );
    for (delay, silence) in detections {
        assert!(
            (0.0..=silence + 0.001).contains(&delay),
            "delay {delay}s vs silence {silence}s:\n{text}"
        );
    }
    // The history is read back from the store.
    assert!(
        text.contains("history, read back from the demo's embedded store"),
        "{text}"
    );
}
