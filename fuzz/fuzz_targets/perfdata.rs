//! Untrusted plugin output (`hbnode beat --sensor cmd:…`): the Nagios performance data parser
//! (node/src/sensors/perfdata.rs, compiled in: hb-node is a binary, not a library).
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
        }
    }
});
