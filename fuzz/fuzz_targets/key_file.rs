//! Untrusted key files (`--key-file`): parse, and re-parse what a parsed file prints.
#![no_main]

use hb_core::parse_key_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(keys) = parse_key_file(text) {
        assert!(!keys.is_empty());
        let printed: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(parse_key_file(&printed.join("\n")), Ok(keys));
    }
});
