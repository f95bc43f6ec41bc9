//! Untrusted acks into a Beater.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use hb_core::{Beater, BeaterConfig, Keyring, NodeId, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mon: SocketAddr = "127.0.0.1:2".parse().unwrap();
    let cfg = BeaterConfig {
        id: NodeId::new("n").unwrap(),
        incarnation: 1,
        period: Duration::from_secs(1),
        jitter: 0.1,
        seed: 1,
        monitors: vec![mon],
        failover: false,
        ack_timeout: Some(Duration::from_secs(3)),
        schedule_poll: None,
        keyring: Keyring::open(),
        group: 0,
        unix_offset_us: 0,
    };
    let mut b = Beater::new(cfg, Timestamp::ZERO).unwrap();
    for (i, chunk) in data.split(|&b| b == 0xff).enumerate() {
        let now = Timestamp::from_micros(i as u64 * 700_000);
        b.handle_timeout(now);
        b.handle_datagram(now, mon, chunk);
        while b.poll_event().is_some() {}
        while b
            .poll_transmit(&mut [0; hb_core::wire::MAX_DATAGRAM])
            .is_some()
        {}
    }
});
