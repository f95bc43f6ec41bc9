//! Bad input is counted, never fatal.

use std::net::UdpSocket;

use hb_tests::{TestMonitor, http_get, metric, wait_for};

#[test]
fn garbage_datagrams_are_counted_as_rejections_and_the_monitor_keeps_running() {
    let mut mon = TestMonitor::start(&[]);
    let (udp, http) = (mon.udp.clone(), mon.http.clone());
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.send_to(b"hello, monitor", &udp).expect("send");
    s.send_to(b"HB", &udp).expect("send");
    s.send_to(&[b'H', b'B', 9, 1, 0], &udp).expect("send");
    s.send_to(&[0u8; 1500], &udp).expect("send");
    let metrics = wait_for("four rejections", || {
        let (_, m) = http_get(&http, "/metrics")?;
        let total: f64 = m
            .lines()
            .filter(|l| l.starts_with("hbnode_datagrams_rejected_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (total >= 4.0).then_some(m)
    });
    let reason = |r: &str| {
        metric(
            &metrics,
            &format!("hbnode_datagrams_rejected_total{{reason=\"{r}\"}}"),
        )
    };
    assert_eq!(reason("bad_magic"), Some(1.0));
    assert_eq!(reason("too_short"), Some(1.0));
    assert_eq!(reason("unsupported_version"), Some(1.0));
    assert_eq!(reason("too_large"), Some(1.0));
    assert!(mon.proc.json_lines().is_empty());
    mon.proc.term();
    assert!(mon.proc.wait().success());
}
