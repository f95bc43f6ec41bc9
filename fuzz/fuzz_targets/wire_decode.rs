//! Native datagrams, with and without MAC verification, straight into a Monitor.
#![no_main]

use std::net::SocketAddr;

use hb_core::{Key, Keyring, Monitor, MonitorConfig, Timestamp, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode(data, &Keyring::open());
    let _ = wire::decode(data, &Keyring::new(vec![Key::new(1, [7; 32])], true));
    let mut m = Monitor::new(MonitorConfig::default(), Timestamp::ZERO).unwrap();
    let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
    // Feed the input as a datagram stream split on 0xff so one input exercises sequences.
    for (i, chunk) in data.split(|&b| b == 0xff).enumerate() {
        m.handle_datagram(Timestamp::from_micros(i as u64 * 500_000), from, chunk);
        while m.poll_event().is_some() {}
        while m.poll_transmit(&mut [0; wire::MAX_DATAGRAM]).is_some() {}
    }
    m.check_invariants().unwrap();
});
