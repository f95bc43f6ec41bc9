//! A TCP/JSON heartbeat connection: the input is fed in chunks split on 0xff, as reads.
#![no_main]

use hb_core::legacy::JsonStream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = JsonStream::new("127.0.0.1:1".parse().unwrap(), 4096);
    for chunk in data.split(|&b| b == 0xff) {
        s.handle_bytes(chunk);
        while let Some(r) = s.poll_beat() {
            if r.is_err() {
                assert!(s.poll_beat().is_none());
                return;
            }
        }
        assert!(s.buffered() <= 4096 + chunk.len());
    }
});
