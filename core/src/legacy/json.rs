//! The TCP/JSON heartbeat: objects like `{"ip":…,"status":…,"pid":…}` on a byte stream, back
//! to back with no delimiter or one per line.

use core::net::SocketAddr;

use serde_json::Value;

use super::beat::{LegacyBeat, LegacyError};
use crate::id::NodeId;

/// Default bound on bytes buffered without a complete object.
pub const DEFAULT_MAX_BUFFER: usize = 64 * 1024;

/// A sans-IO decoder for one connection: [`Self::handle_bytes`] in, [`Self::poll_beat`] out.
///
/// After an error the stream is unusable (its framing is lost); the caller closes the
/// connection. Bytes held are bounded by `max_buffer`.
#[derive(Debug)]
pub struct JsonStream {
    peer: SocketAddr,
    buf: Vec<u8>,
    max_buffer: usize,
    failed: bool,
}

impl JsonStream {
    /// A decoder for a connection from `peer`.
    pub fn new(peer: SocketAddr, max_buffer: usize) -> Self {
        Self {
            peer,
            buf: Vec::new(),
            max_buffer,
            failed: false,
        }
    }

    /// Bytes read from the connection.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete beat, an error (after which the connection must be closed), or
    /// `None` until more bytes arrive.
    pub fn poll_beat(&mut self) -> Option<Result<LegacyBeat, LegacyError>> {
        if self.failed {
            return None;
        }
        let mut stream = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
        let result = match stream.next() {
            None => {
                // Only whitespace so far.
                self.buf.clear();
                return None;
            }
            Some(Err(e)) if e.is_eof() => {
                if self.buf.len() > self.max_buffer {
                    Err(LegacyError::BufferFull(self.max_buffer))
                } else {
                    return None;
                }
            }
            Some(Err(e)) => Err(LegacyError::Json(e.to_string())),
            Some(Ok(v)) => {
                let used = stream.byte_offset();
                match beat_of(&v, self.peer) {
                    Ok(beat) => {
                        self.buf.drain(..used);
                        return Some(Ok(beat));
                    }
                    Err(e) => Err(e),
                }
            }
        };
        self.failed = true;
        self.buf = Vec::new();
        Some(result)
    }

    /// Bytes held waiting for the rest of an object.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn beat_of(v: &Value, peer: SocketAddr) -> Result<LegacyBeat, LegacyError> {
    let obj = v.as_object().ok_or(LegacyError::NotAnObject)?;
    let pid = match obj.get("pid") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .ok_or(LegacyError::FieldType("pid"))?,
        ),
        Some(Value::String(s)) => Some(
            s.trim()
                .parse()
                .map_err(|_| LegacyError::FieldType("pid"))?,
        ),
        Some(_) => return Err(LegacyError::FieldType("pid")),
    };
    let ip = match obj.get("ip") {
        None | Some(Value::Null) => peer.ip().to_string(),
        Some(v) => text(v).ok_or(LegacyError::FieldType("ip"))?,
    };
    let id = match obj.get("id") {
        Some(v) => text(v).ok_or(LegacyError::FieldType("id"))?,
        None => match pid {
            Some(p) => format!("{ip}/{p}"),
            None => ip,
        },
    };
    let mut beat = LegacyBeat::new(NodeId::new(&id)?);
    beat.pid = pid;
    beat.status = obj.get("status").and_then(text);
    for (k, v) in obj {
        if !matches!(k.as_str(), "id" | "ip" | "pid" | "status")
            && let Some(t) = text(v)
        {
            beat.labels.insert(k.clone(), t);
        }
    }
    Ok(beat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> JsonStream {
        JsonStream::new("198.51.100.1:40000".parse().unwrap(), 256)
    }

    fn drain(s: &mut JsonStream) -> Vec<Result<LegacyBeat, LegacyError>> {
        std::iter::from_fn(|| s.poll_beat()).collect()
    }

    #[test]
    fn back_to_back_and_newline_delimited_objects() {
        let mut s = stream();
        s.handle_bytes(br#"{"ip":"10.0.0.5","status":"ok","pid":12}{"ip":"10.0.0.6","pid":"13"}"#);
        s.handle_bytes(b"\n{\"id\":\"db\",\"role\":\"primary\"}\n");
        let beats: Vec<_> = drain(&mut s).into_iter().map(Result::unwrap).collect();
        assert_eq!(beats[0].node.as_str(), "10.0.0.5/12");
        assert_eq!(beats[0].status.as_deref(), Some("ok"));
        assert_eq!(beats[1].node.as_str(), "10.0.0.6/13");
        assert_eq!(beats[2].node.as_str(), "db");
        assert_eq!(
            beats[2].labels.get("role").map(String::as_str),
            Some("primary")
        );
        assert_eq!(s.buffered(), 0, "whitespace between objects is not kept");
    }

    #[test]
    fn an_object_split_across_reads_waits_for_the_rest() {
        let mut s = stream();
        s.handle_bytes(br#"{"ip":"10.0.0.5","#);
        assert!(s.poll_beat().is_none());
        s.handle_bytes(br#""pid":1}"#);
        assert_eq!(s.poll_beat().unwrap().unwrap().node.as_str(), "10.0.0.5/1");
        // No ip at all: the peer's address.
        s.handle_bytes(br#"{"pid":2}"#);
        assert_eq!(
            s.poll_beat().unwrap().unwrap().node.as_str(),
            "198.51.100.1/2"
        );
    }

    #[test]
    fn junk_and_floods_fail_the_stream() {
        let mut s = stream();
        s.handle_bytes(b"{\"pid\":1} garbage");
        assert!(s.poll_beat().unwrap().is_ok());
        assert!(matches!(s.poll_beat(), Some(Err(LegacyError::Json(_)))));
        assert!(
            s.poll_beat().is_none(),
            "a failed stream yields nothing more"
        );

        // Found by fuzzing (fuzz/regressions/json_stream): a valid JSON value that is not a
        // beat must fail the stream too, not just skip the value.
        let mut s = stream();
        s.handle_bytes(br#"[1,2] {"pid":"x"}"#);
        assert_eq!(s.poll_beat(), Some(Err(LegacyError::NotAnObject)));
        assert_eq!(s.poll_beat(), None);

        let mut s = stream();
        s.handle_bytes(b"{\"pid\": \"x\"}");
        assert_eq!(s.poll_beat(), Some(Err(LegacyError::FieldType("pid"))));

        let mut s = stream();
        s.handle_bytes(b"{\"a\":\"");
        s.handle_bytes(&[b'x'; 300]);
        assert_eq!(s.poll_beat(), Some(Err(LegacyError::BufferFull(256))));
        assert_eq!(s.buffered(), 0);
    }
}
