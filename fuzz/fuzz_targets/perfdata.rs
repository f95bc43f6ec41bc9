//! Untrusted plugin output (`hbnode beat --sensor cmd:…`): the Nagios performance data parser
//! (node/src/sensors/perfdata.rs, compiled in: hb-node is a binary, not a library), with the
//! warn/crit ranges, min and max it keeps (issue 14).
#![no_main]
#![allow(dead_code, unreachable_pub)]

#[path = "../../node/src/sensors/perfdata.rs"]
mod perfdata;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for items in [perfdata::of_output(&text), perfdata::parse(&text)] {
        assert!(items.len() <= perfdata::MAX_ITEMS);
        for p in items {
            assert!(!p.label.is_empty());
            assert!(p.value.is_finite());
            // Thresholds are well-formed Nagios ranges or absent; min and max finite.
            for r in [p.warning, p.critical].into_iter().flatten() {
                let (lo, hi) = (r.low().unwrap_or(f64::MIN), r.high().unwrap_or(f64::MAX));
                assert!(lo.is_finite() && hi.is_finite() && lo <= hi, "{r:?}");
                assert_eq!(r.to_string().parse::<hb_core::probe::Range>(), Ok(r));
            }
            assert!([p.min, p.max].into_iter().flatten().all(f64::is_finite));
            assert!(usize::from(p.dropped) <= 4);
        }
    }
});
