//! Key files and `hbnode keygen`: reading `--key-file` (refusing one other users can read)
//! and minting new keys from the operating system's randomness.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use hb_core::{KEY_LEN, Key, Keyring, parse_key_file};

use crate::cli::KeygenArgs;

/// Reads a key file into a keyring. Refuses a file that is readable by all users (the key
/// would not be a secret) and names the bad line of a malformed one.
pub(crate) fn load(path: &Path, require: bool) -> anyhow::Result<Keyring> {
    check_permissions(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--key-file {}: cannot read it", path.display()))?;
    let keys = parse_key_file(&text).with_context(|| {
        format!(
            "--key-file {}: not a key file (make one with `hbnode keygen`)",
            path.display()
        )
    })?;
    Ok(Keyring::new(keys, require))
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--key-file {}: cannot read it", path.display()))?;
    let mode = meta.permissions().mode();
    let what = if mode & 0o004 != 0 {
        "readable by every user; its keys are secrets"
    } else if mode & 0o022 != 0 {
        "writable by other users, who could replace its keys with their own"
    } else {
        return Ok(());
    };
    bail!(
        "--key-file {}: the file is {what} (mode {:o}): run `chmod 600 {}`",
        path.display(),
        mode & 0o777,
        path.display()
    );
}

#[cfg(not(unix))]
fn check_permissions(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// A new key with a random secret; a random id unless one is given.
pub(crate) fn generate(id: Option<u32>) -> anyhow::Result<Key> {
    let mut secret = [0u8; KEY_LEN];
    getrandom::fill(&mut secret)
        .map_err(|e| anyhow::anyhow!("cannot read the operating system's randomness: {e}"))?;
    let id = match id {
        Some(id) => id,
        None => {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).map_err(|e| {
                anyhow::anyhow!("cannot read the operating system's randomness: {e}")
            })?;
            u32::from_le_bytes(b)
        }
    };
    Ok(Key::new(id, secret))
}

/// Runs `hbnode keygen`: prints one new key line on stdout, or writes it to `--out` (a new
/// file, mode 0600; an existing one only with `--force`).
pub(crate) fn run(a: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let key = generate(a.key_id)?;
    match &a.out {
        Some(path) => write_key_file(path, &key, a.force)?,
        None => println!("{key}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `key` as a one-line key file only its owner can read and write.
fn write_key_file(path: &Path, key: &Key, force: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "keygen --out {}: the file exists; not overwriting its keys (add --force to \
                 replace them)",
                path.display()
            )
        } else {
            anyhow::Error::new(e)
                .context(format!("keygen --out {}: cannot create it", path.display()))
        }
    })?;
    // An existing file keeps its mode through --force: make it owner-only too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("keygen --out {}: cannot chmod 600", path.display()))?;
    writeln!(f, "{key}")
        .with_context(|| format!("keygen --out {}: cannot write", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("hbnode-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn parse(args: &[&str]) -> crate::cli::Cli {
        let mut argv = vec![std::ffi::OsString::from("hbnode")];
        argv.extend(args.iter().map(std::ffi::OsString::from));
        match crate::cli::config::parse_from(argv) {
            Ok(cli) => cli,
            Err(_) => panic!("{args:?} does not parse"),
        }
    }

    #[test]
    fn key_file_require_auth_max_nodes_and_key_id_parse() {
        use crate::cli::Command;
        match parse(&[
            "monitor",
            "--key-file",
            "/k",
            "--require-auth",
            "--max-nodes",
            "10",
        ])
        .command
        {
            Command::Monitor(m) => {
                assert_eq!(m.key_file.as_deref(), Some(Path::new("/k")));
                assert!(m.require_auth);
                assert_eq!(m.max_nodes, 10);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["monitor"]).command {
            Command::Monitor(m) => {
                assert!(m.key_file.is_none() && !m.require_auth);
                assert_eq!(m.max_nodes, 1 << 20);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["beat", "--to", "127.0.0.1:1", "--key-file", "/k"]).command {
            Command::Beat(b) => assert_eq!(b.key_file.as_deref(), Some(Path::new("/k"))),
            other => panic!("{other:?}"),
        }
        match parse(&["keygen", "--key-id", "42"]).command {
            Command::Keygen(k) => assert_eq!(k.key_id, Some(42)),
            other => panic!("{other:?}"),
        }
        let mut argv: Vec<std::ffi::OsString> = ["hbnode", "monitor", "--max-nodes", "0"]
            .iter()
            .map(Into::into)
            .collect();
        assert!(crate::cli::config::parse_from(argv.clone()).is_err());
        argv[3] = "x".into();
        assert!(crate::cli::config::parse_from(argv.clone()).is_err());
        // Issue 13 item 9: the core holds at most 2^32 − 1 nodes; the CLI says so.
        argv[3] = "4294967296".into();
        assert!(crate::cli::config::parse_from(argv.clone()).is_err());
        argv[3] = "4294967295".into();
        match crate::cli::config::parse_from(argv).unwrap().command {
            Command::Monitor(m) => assert_eq!(m.max_nodes, u64::from(u32::MAX)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keygen_out_creates_an_owner_only_file_and_overwrites_only_with_force() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("hbnode-keygen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("hb.keys");
        let _ = std::fs::remove_file(&p);
        let args = |force| KeygenArgs {
            key_id: Some(3),
            out: Some(p.clone()),
            force,
        };
        run(&args(false)).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = std::fs::read_to_string(&p).unwrap();
        assert_eq!(load(&p, true).unwrap().signing_key().map(Key::id), Some(3));
        let e = format!("{:#}", run(&args(false)).unwrap_err());
        assert!(e.contains("exists") && e.contains("--force"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), first, "untouched");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        run(&args(true)).unwrap();
        assert_ne!(std::fs::read_to_string(&p).unwrap(), first);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "--force makes an existing file owner-only");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn generated_keys_differ_and_round_trip_through_a_key_file() {
        let a = generate(Some(7)).unwrap();
        let b = generate(None).unwrap();
        assert_eq!(a.id(), 7);
        let secret = |k: &Key| k.to_string().rsplit(':').next().map(str::to_owned);
        assert_ne!(secret(&a), secret(&b), "two keys share a secret");
        assert_eq!(secret(&a).map(|s| s.len()), Some(64));
        let p = write("ok", &format!("# keys\n{a}\n{b}\n"), 0o600);
        let ring = load(&p, true).unwrap();
        assert_eq!(ring.signing_key(), Some(&a));
        assert_eq!(ring.get(b.id()), Some(&b));
        assert!(ring.requires_auth());
    }

    #[test]
    fn world_readable_or_malformed_key_files_are_refused_with_the_reason() {
        let k = generate(Some(1)).unwrap();
        let p = write("open", &format!("{k}\n"), 0o644);
        let e = format!("{:#}", load(&p, false).unwrap_err());
        assert!(
            e.contains("readable by every user") && e.contains("chmod 600"),
            "{e}"
        );
        for mode in [0o620, 0o602, 0o660] {
            let p = write(&format!("writable-{mode:o}"), &format!("{k}\n"), mode);
            let e = format!("{:#}", load(&p, false).unwrap_err());
            assert!(
                e.contains("writable by other users") && e.contains("chmod 600"),
                "{mode:o}: {e}"
            );
        }
        assert!(load(&write("owner-read-only", &format!("{k}\n"), 0o400), false).is_ok());
        let p = write("bad", &format!("{k}\nhbk1:2:00\n"), 0o600);
        let e = format!("{:#}", load(&p, false).unwrap_err());
        assert!(e.contains("line 2"), "{e}");
        let e = format!(
            "{:#}",
            load(Path::new("/nonexistent/k"), false).unwrap_err()
        );
        assert!(e.contains("cannot read"), "{e}");
    }
}
