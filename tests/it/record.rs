//! `hbnode monitor --record FILE` writes real arrivals that hb-sim reads back and replays.

use std::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};
use hb_sim::trace::{TraceReader, replay};
use hb_tests::{Proc, TestMonitor, wait_for};

#[test]
fn recorded_arrivals_replay_under_another_detector() {
    let dir = std::env::temp_dir().join(format!("hbnode-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("arrivals.hbt");
    let tm = TestMonitor::builder()
        .http("off")
        .args(&["--timeout", "1s", "--record", file.to_str().unwrap()])
        .start();
    let mut mon = tm.proc;
    let _b = Proc::hbnode(&["beat", "--to", &tm.udp, "--period", "100ms", "--id", "rec"]);
    wait_for("10 beats from rec", || {
        mon.json_lines()
            .iter()
            .any(|e| e["node"] == "rec")
            .then_some(())?;
        std::thread::sleep(Duration::from_millis(1100));
        Some(())
    });
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());

    let f = std::fs::File::open(&file).expect("trace file written");
    let reader = TraceReader::new(std::io::BufReader::new(f)).expect("valid trace header");
    let fixed = DetectorConfig::Fixed(Fixed {
        timeout: Duration::from_millis(300),
    });
    let nodes = replay(reader, fixed, Duration::from_secs(1)).expect("replay");
    let (id, rec) = nodes.iter().next().expect("one node recorded");
    assert_eq!(id.as_str(), "rec");
    assert!(rec.arrivals >= 8, "only {} arrivals recorded", rec.arrivals);
    let _ = std::fs::remove_dir_all(&dir);
}
