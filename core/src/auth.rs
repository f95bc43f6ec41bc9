//! Datagram authentication: a keyed BLAKE3 MAC, truncated to 16 bytes, with a key id for
//! rotation.
//!
//! The tag covers every byte of the datagram before it (header, body and key id), so nothing in
//! an authenticated datagram can be changed without the key. Comparison is constant-time.

use core::fmt;
use core::str::FromStr;

/// Length of a secret key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the authentication tag in bytes.
pub const TAG_LEN: usize = 16;

/// A shared secret with its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    id: u32,
    secret: [u8; KEY_LEN],
}

impl Key {
    /// A key from its id and 32 secret bytes.
    pub const fn new(id: u32, secret: [u8; KEY_LEN]) -> Self {
        Self { id, secret }
    }

    /// The key's id, sent in clear with every authenticated datagram.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// The 16-byte tag of `data` under this key.
    pub fn tag(&self, data: &[u8]) -> [u8; TAG_LEN] {
        let full = blake3::keyed_hash(&self.secret, data);
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&full.as_bytes()[..TAG_LEN]);
        tag
    }

    /// Whether `tag` is the tag of `data` under this key (constant-time).
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        tag.len() == TAG_LEN && constant_time_eq::constant_time_eq(&self.tag(data), tag)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Text form of a key: `hbk1:<id>:<64 hex digits>`, one per line in a key file.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hbk1:{}:", self.id)?;
        for b in self.secret {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why a key's text form did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// The text does not start with `hbk1:`.
    #[error("a key looks like hbk1:<id>:<64 hex digits>")]
    Format,
    /// The id is not a number from 0 to 4294967295.
    #[error("key id is not a number from 0 to 4294967295")]
    Id,
    /// The secret is not 64 hex digits.
    #[error("key secret must be exactly 64 hex digits")]
    Secret,
}

impl FromStr for Key {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, KeyParseError> {
        let rest = s
            .trim()
            .strip_prefix("hbk1:")
            .ok_or(KeyParseError::Format)?;
        let (id, hex) = rest.split_once(':').ok_or(KeyParseError::Format)?;
        let id = id.parse().map_err(|_| KeyParseError::Id)?;
        let hex = hex.as_bytes();
        if hex.len() != 2 * KEY_LEN {
            return Err(KeyParseError::Secret);
        }
        let mut secret = [0; KEY_LEN];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char)
                .to_digit(16)
                .ok_or(KeyParseError::Secret)?;
            let lo = (pair[1] as char)
                .to_digit(16)
                .ok_or(KeyParseError::Secret)?;
            secret[i] = (hi * 16 + lo) as u8;
        }
        Ok(Self { id, secret })
    }
}

/// The keys a monitor or beater accepts, and whether unauthenticated datagrams are refused.
///
/// Datagrams are signed with the first key; any key verifies (rotation: add the new key second,
/// roll it out, move it first, then drop the old one).
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<Key>,
    require: bool,
}

impl Keyring {
    /// A keyring; `require` refuses datagrams without a tag.
    pub fn new(keys: Vec<Key>, require: bool) -> Self {
        Self { keys, require }
    }

    /// No keys; unauthenticated datagrams accepted.
    pub fn open() -> Self {
        Self::default()
    }

    /// The key outgoing datagrams are signed with, if any.
    pub fn signing_key(&self) -> Option<&Key> {
        self.keys.first()
    }

    /// The key with this id.
    pub fn get(&self, id: u32) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Whether datagrams without a tag are refused.
    pub fn requires_auth(&self) -> bool {
        self.require
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Why a key file did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// A line that is neither blank, a `#` comment nor a key.
    #[error("line {line}: {error}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What was wrong with it.
        error: KeyParseError,
    },
    /// Two keys with the same id (verification could not tell them apart).
    #[error("line {line}: key id {id} already appears on line {first}")]
    DuplicateId {
        /// 1-based line number of the second key.
        line: usize,
        /// 1-based line number of the first key.
        first: usize,
        /// The repeated id.
        id: u32,
    },
    /// No key at all.
    #[error("no key in the file (expected lines like hbk1:<id>:<64 hex digits>)")]
    Empty,
}

/// Parses a key file: one key per line in its text form; blank lines and lines starting with
/// `#` are ignored; text after a key separated by whitespace and `#` is a comment. The first
/// key is the signing key. Never panics, whatever the input.
pub fn parse_key_file(text: &str) -> Result<Vec<Key>, KeyFileError> {
    let mut keys: Vec<(usize, Key)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split_once('#').map_or(raw, |(k, _)| k).trim();
        if content.is_empty() {
            continue;
        }
        let key: Key = content
            .parse()
            .map_err(|error| KeyFileError::BadLine { line, error })?;
        if let Some((first, _)) = keys.iter().find(|(_, k)| k.id == key.id) {
            return Err(KeyFileError::DuplicateId {
                line,
                first: *first,
                id: key.id,
            });
        }
        keys.push((line, key));
    }
    if keys.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(keys.into_iter().map(|(_, k)| k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_rejects_junk() {
        let k = Key::new(7, [0xab; 32]);
        let s = k.to_string();
        assert_eq!(s, format!("hbk1:7:{}", "ab".repeat(32)));
        assert_eq!(s.parse::<Key>().unwrap(), k);
        assert_eq!("hbk2:1:00".parse::<Key>(), Err(KeyParseError::Format));
        assert_eq!("hbk1:x:00".parse::<Key>(), Err(KeyParseError::Id));
        assert_eq!("hbk1:1:0g".parse::<Key>(), Err(KeyParseError::Secret));
        assert!(!format!("{k:?}").contains("ab"));
    }

    #[test]
    fn tags_verify_only_with_the_same_key_and_data() {
        let a = Key::new(1, [1; 32]);
        let b = Key::new(1, [2; 32]);
        let tag = a.tag(b"hello");
        assert!(a.verify(b"hello", &tag));
        assert!(!a.verify(b"hellp", &tag));
        assert!(!b.verify(b"hello", &tag));
        assert!(!a.verify(b"hello", &tag[..15]));
    }

    #[test]
    fn key_file_keeps_order_skips_comments_and_names_bad_lines() {
        let a = Key::new(1, [1; 32]);
        let b = Key::new(2, [2; 32]);
        let text = format!("# rotation\n\n{b}  # new\n  {a}\n");
        assert_eq!(parse_key_file(&text).unwrap(), vec![b.clone(), a.clone()]);
        assert_eq!(
            parse_key_file(&format!("{a}\nhbk1:2:zz\n")),
            Err(KeyFileError::BadLine {
                line: 2,
                error: KeyParseError::Secret
            })
        );
        assert_eq!(
            parse_key_file(&format!("{a}\n# x\n{a}\n")),
            Err(KeyFileError::DuplicateId {
                line: 3,
                first: 1,
                id: 1
            })
        );
        assert_eq!(parse_key_file("# only\n\n"), Err(KeyFileError::Empty));
        assert_eq!(
            parse_key_file("hbk1:1:é").unwrap_err().to_string(),
            "line 1: key secret must be exactly 64 hex digits"
        );
    }
}
