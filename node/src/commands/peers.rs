//! `hbnode peers`: who is in a peer group. Sends an identify request to the group's multicast
//! address and lists the members that answer within `--wait` (blocking; no runtime needed).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hb_core::wire::{self, Identify, Message};
use hb_core::{Keyring, Rejection};
use serde::Serialize;

use crate::cli::peer::PeersArgs;
use crate::net::multicast;
use crate::process::host::random_u64;

/// One member that answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct MemberRow {
    /// Node id.
    pub(crate) id: String,
    /// The address its answer came from.
    pub(crate) addr: SocketAddr,
    /// Its incarnation.
    pub(crate) incarnation: u64,
    /// How long it has been running, in ms.
    pub(crate) uptime_ms: u64,
}

/// What one request collected.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    /// Members by id (a member that answered twice appears once, with its latest answer).
    pub(crate) members: BTreeMap<String, MemberRow>,
    /// Datagrams that were not a valid answer to this request.
    pub(crate) refused: BTreeMap<Rejection, u64>,
}

impl Answers {
    /// Takes one datagram from `from`: a member answer for `group` and `nonce`, or a refusal.
    pub(crate) fn take(
        &mut self,
        bytes: &[u8],
        from: SocketAddr,
        keys: &Keyring,
        group: u32,
        nonce: u64,
    ) {
        let why = match wire::decode(bytes, keys) {
            Ok(d) => match d.message {
                Message::Member(m) if m.group != group => Rejection::WrongGroup,
                Message::Member(m) if m.nonce != nonce => Rejection::Replayed,
                Message::Member(m) => {
                    self.members.insert(
                        m.node.to_owned(),
                        MemberRow {
                            id: m.node.to_owned(),
                            addr: from,
                            incarnation: m.incarnation,
                            uptime_ms: m.uptime_ms,
                        },
                    );
                    return;
                }
                _ => Rejection::UnexpectedKind,
            },
            Err(e) => e.into(),
        };
        *self.refused.entry(why).or_default() += 1;
    }
}

/// Runs `hbnode peers`: exit 0 if any member answered, 1 if none.
pub(crate) fn run(a: &PeersArgs) -> anyhow::Result<ExitCode> {
    let multicast::GroupFlags {
        group,
        iface,
        keyring: keys,
    } = multicast::GroupFlags::new(&a.net)?;
    let socket: UdpSocket = multicast::sender_socket(a.net.ttl, iface)?.into();
    let nonce = random_u64();
    let mut buf = [0u8; wire::MAX_DATAGRAM];
    let n = wire::encode(
        &Message::Identify(Identify {
            group: group.hash(),
            nonce,
        }),
        keys.signing_key(),
        &mut buf,
    )
    .context("cannot encode the identify request")?;
    let request = buf[..n].to_vec();
    let to = SocketAddr::V4(group.socket_addr());
    // Twice, at the start and half-way, against the loss of one request.
    let start = Instant::now();
    let resend_at = start + a.wait / 2;
    let deadline = start + a.wait;
    socket
        .send_to(&request, to)
        .with_context(|| format!("cannot send the identify request to {to}"))?;
    let mut resent = false;
    let mut answers = Answers::default();
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if !resent && now >= resend_at {
            resent = true;
            let _ = socket.send_to(&request, to);
        }
        let until = if resent { deadline } else { resend_at };
        socket.set_read_timeout(Some(
            until
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        ))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => answers.take(&buf[..n], from, &keys, group.hash(), nonce),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e).context("cannot receive answers"),
        }
    }
    print(&answers, a.json)?;
    if answers.members.is_empty() {
        eprintln!(
            "hbnode peers: no member of group {} ({to}) answered within {}",
            group.name(),
            humantime::format_duration(a.wait)
        );
        return Ok(ExitCode::FAILURE);
    }
    if !answers.refused.is_empty() {
        let refused: Vec<String> = answers
            .refused
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        eprintln!(
            "hbnode peers: answers refused: {} (a member with another key, or none?)",
            refused.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print(answers: &Answers, json: bool) -> anyhow::Result<()> {
    let rows: Vec<&MemberRow> = answers.members.values().collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        return Ok(());
    }
    println!(
        "{:<24} {:<22} {:>18} {:>12}",
        "ID", "ADDRESS", "INCARNATION", "UPTIME"
    );
    for r in rows {
        let uptime = humantime::format_duration(Duration::from_secs(r.uptime_ms / 1000));
        println!(
            "{:<24} {:<22} {:>18} {:>12}",
            r.id,
            r.addr.to_string(),
            r.incarnation,
            uptime.to_string()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_core::Key;
    use hb_core::wire::Member;

    fn member(group: u32, node: &str, nonce: u64, key: Option<&Key>) -> Vec<u8> {
        let mut buf = [0; wire::MAX_DATAGRAM];
        let m = Message::Member(Member {
            group,
            node,
            incarnation: 3,
            uptime_ms: 61_000,
            nonce,
        });
        let n = wire::encode(&m, key, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn only_answers_to_this_request_in_this_group_are_listed() {
        let from: SocketAddr = "10.0.0.2:24001".parse().unwrap();
        let open = Keyring::open();
        let mut a = Answers::default();
        a.take(&member(7, "b", 1, None), from, &open, 7, 1);
        a.take(&member(7, "a", 1, None), from, &open, 7, 1);
        a.take(&member(7, "a", 1, None), from, &open, 7, 1);
        a.take(&member(8, "c", 1, None), from, &open, 7, 1);
        a.take(&member(7, "d", 2, None), from, &open, 7, 1);
        a.take(b"junk", from, &open, 7, 1);
        let ids: Vec<&str> = a.members.keys().map(String::as_str).collect();
        assert_eq!(ids, ["a", "b"], "sorted, deduplicated");
        assert_eq!(a.members["a"].uptime_ms, 61_000);
        assert_eq!(
            a.refused.into_iter().collect::<Vec<_>>(),
            [
                (Rejection::TooShort, 1),
                (Rejection::WrongGroup, 1),
                (Rejection::Replayed, 1)
            ]
        );
    }

    #[test]
    fn with_keys_only_signed_answers_count() {
        let key = Key::new(1, [2; 32]);
        let ring = Keyring::new(vec![key.clone()], true);
        let from: SocketAddr = "10.0.0.2:24001".parse().unwrap();
        let mut a = Answers::default();
        a.take(&member(7, "plain", 1, None), from, &ring, 7, 1);
        a.take(&member(7, "signed", 1, Some(&key)), from, &ring, 7, 1);
        assert_eq!(a.members.keys().collect::<Vec<_>>(), ["signed"]);
        assert_eq!(a.refused.get(&Rejection::Unauthenticated), Some(&1));
    }
}
