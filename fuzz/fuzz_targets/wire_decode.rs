//! Native datagrams, with and without MAC verification, straight into a Monitor, and into a
//! peer-mode Monitor (group set, own identity known: identify requests answered).
#![no_main]

use std::net::SocketAddr;

use hb_core::{Key, Keyring, Monitor, MonitorConfig, NodeId, PeerIdentity, Timestamp, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode(data, &Keyring::open());
    let _ = wire::decode(data, &Keyring::new(vec![Key::new(1, [7; 32])], true));
    let plain = Monitor::new(MonitorConfig::default(), Timestamp::ZERO).unwrap();
    let peer = MonitorConfig {
        group: 7,
        peer: Some(PeerIdentity {
            id: NodeId::new("me").unwrap(),
            incarnation: 1,
        }),
        ..MonitorConfig::default()
    };
    let peer = Monitor::new(peer, Timestamp::ZERO).unwrap();
    let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
    for mut m in [plain, peer] {
        // Feed the input as a datagram stream split on 0xff so one input exercises sequences.
        for (i, chunk) in data.split(|&b| b == 0xff).enumerate() {
            m.handle_datagram(Timestamp::from_micros(i as u64 * 500_000), from, chunk);
            while m.poll_event().is_some() {}
            let mut buf = [0; wire::MAX_DATAGRAM];
            while let Some(t) = m.poll_transmit(&mut buf) {
                // Whatever the monitor sends must decode.
                wire::decode(&buf[..t.len], &Keyring::open()).unwrap();
            }
        }
        m.check_invariants().unwrap();
    }
});
