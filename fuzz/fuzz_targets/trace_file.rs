//! Untrusted trace files (`cargo xtask sim replay FILE`) through hb-sim's TraceReader, the
//! replay, and a write/read round trip of whatever the reader accepted.
#![no_main]

use std::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};
use hb_sim::trace::{TraceReader, TraceWriter, replay};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = TraceReader::new(data) else {
        return;
    };
    let mut arrivals = Vec::new();
    for a in reader.take(10_000) {
        match a {
            Ok(a) => arrivals.push(a),
            Err(_) => break,
        }
    }
    let fixed = DetectorConfig::Fixed(Fixed {
        timeout: Duration::from_secs(1),
    });
    if let Ok(reader) = TraceReader::new(data) {
        let _ = replay(reader.take(10_000), fixed, Duration::from_secs(1));
    }
    // What the reader accepted, the writer writes and the reader reads back unchanged.
    let Ok(mut w) = TraceWriter::new(Vec::new()) else {
        return;
    };
    if arrivals.iter().all(|a| w.record(a).is_ok())
        && let Ok(bytes) = w.finish()
    {
        let back: Vec<_> = TraceReader::new(&bytes[..])
            .expect("a written trace has a header")
            .collect::<Result<_, _>>()
            .expect("a written trace reads back");
        assert_eq!(back, arrivals);
    }
});
