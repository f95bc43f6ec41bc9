//! Untrusted `--config` TOML files through hbnode's real CLI and config parser (the node's
//! `cli/` folder, compiled in as modules: hb-node is a binary, not a library).
#![no_main]
#![allow(dead_code, unreachable_pub)]

#[path = "../../node/src/cli/mod.rs"]
mod cli;
#[path = "../../node/src/sensors/spec.rs"]
mod sensor_spec;
mod sensors {
    pub(crate) use super::sensor_spec as spec;
}

use std::ffi::OsString;
use std::io::Write as _;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One file per process, rewritten for each input.
    thread_local! {
        static PATH: std::path::PathBuf = std::env::temp_dir()
            .join(format!("hbnode-fuzz-config-{}.toml", std::process::id()));
    }
    PATH.with(|path| {
        let Ok(mut f) = std::fs::File::create(path) else {
            return;
        };
        if f.write_all(data).is_err() {
            return;
        }
        drop(f);
        for sub in [
            &["monitor"][..],
            &["beat", "--to", "127.0.0.1:1"],
            &["status"],
            &["peer", "--group", "g"],
            &["peers", "--group", "g"],
        ] {
            let mut argv: Vec<OsString> = vec!["hbnode".into()];
            argv.extend(sub.iter().map(OsString::from));
            argv.push("--config".into());
            argv.push(path.into());
            // Errors are fine; a panic is a bug.
            let _ = cli::config::parse_from(argv);
        }
    });
});
