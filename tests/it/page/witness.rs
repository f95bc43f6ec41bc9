//! The status page in witness mode: a monitor whose only witness never answers falls back to
//! its own verdicts, and the page says so (a "Quorum lost" banner, the witness DOWN, the title),
//! as does `hbnode status`.

use hb_tests::{TestMonitor, free_udp_port, http_get, wait_for};

use super::{attr_after, dump_dom};

#[test]
fn status_page_shows_the_witnesses_and_a_banner_in_fallback() {
    let silent = format!("127.0.0.1:{}", free_udp_port());
    let mon = TestMonitor::builder()
        .no_events()
        .args(&[
            "--timeout",
            "1s",
            "--id",
            "mon-page",
            "--witness",
            &silent,
            "--witness-period",
            "200ms",
        ])
        .start();
    wait_for("the monitor in fallback", || {
        http_get(&mon.http, "/v1/summary").filter(|(_, b)| b.contains("\"fallback\":true"))
    });
    let dom = dump_dom(&format!("http://{}/", mon.http));
    assert_eq!(
        attr_after(&dom, "id=\"quorum\"", "class").as_deref(),
        Some("on"),
        "{dom}"
    );
    assert!(dom.contains("Quorum lost: 1 of the 2 monitors"), "{dom}");
    assert!(
        dom.contains(&format!("{silent} DOWN, never heard")),
        "the witness, by address until heard: {dom}"
    );
    assert!(dom.contains("QUORUM LOST · "), "the title says it: {dom}");
    // `hbnode status` says the same before its table.
    let out = std::process::Command::new(hb_tests::hbnode())
        .args(["status", "--http", &mon.http])
        .output()
        .expect("hbnode status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!(
            "WITNESSES: 1 of 2 monitors up, 2 needed for a down ({silent} DOWN)"
        )),
        "{text}"
    );
    assert!(text.contains("QUORUM LOST"), "{text}");
}
