//! hb-core stays sans-IO: no runtime, socket or clock crate in its dependency tree.
//! (Calls to clocks, env, threads and global RNGs are refused by core/clippy.toml.)

use std::process::Command;

#[test]
fn dependency_tree_has_no_runtime_or_socket_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "hb-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("hb-core"), "unexpected output: {tree}");
    for banned in ["tokio", "actix", "mio", "socket2", "getrandom", "libc "] {
        let hit = tree.lines().find(|l| l.starts_with(banned));
        assert!(hit.is_none(), "hb-core depends on {hit:?}");
    }
}
