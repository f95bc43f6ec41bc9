//! Peer mode's sockets: the group socket every member receives on (shared by several peers on
//! one host), and the socket beats and identify requests leave from.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use anyhow::{Context as _, bail};
use hb_core::Keyring;
use hb_core::group::Group;
use socket2::{Domain, Protocol, Socket, Type};

use crate::cli::peer::GroupArgs;

/// The shared group flags, checked: the group, the interface's address (if given) and the keys.
/// With keys, only key holders count: unsigned beats, requests and answers are refused.
pub(crate) struct GroupFlags {
    /// The group NAME's derived address, port and hash.
    pub(crate) group: Group,
    /// `--iface`, resolved to an address.
    pub(crate) iface: Option<Ipv4Addr>,
    /// `--key-file`'s keys (open without one).
    pub(crate) keyring: Keyring,
}

impl GroupFlags {
    /// Checks `a` (the interface name is looked up, the key file read).
    pub(crate) fn new(a: &GroupArgs) -> anyhow::Result<Self> {
        let group = Group::new(&a.group).with_context(|| format!("--group `{}`", a.group))?;
        let iface = a.iface.as_deref().map(resolve_iface).transpose()?;
        let keyring = match &a.key_file {
            Some(path) => crate::commands::keys::load(path, true)?,
            None => Keyring::open(),
        };
        Ok(Self {
            group,
            iface,
            keyring,
        })
    }
}

/// `--iface`: an IPv4 address, or the name of an interface with one (its first).
pub(crate) fn resolve_iface(iface: &str) -> anyhow::Result<Ipv4Addr> {
    if let Ok(ip) = iface.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    let all = if_addrs::get_if_addrs().context("cannot list the network interfaces")?;
    let v4 = |i: &if_addrs::Interface| match i.ip() {
        std::net::IpAddr::V4(ip) => Some(ip),
        std::net::IpAddr::V6(_) => None,
    };
    if let Some(ip) = all.iter().filter(|i| i.name == iface).find_map(v4) {
        return Ok(ip);
    }
    let known: Vec<String> = all
        .iter()
        .filter_map(|i| v4(i).map(|ip| format!("{} ({ip})", i.name)))
        .collect();
    bail!(
        "--iface {iface}: no interface of that name with an IPv4 address; interfaces with one: {}",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )
}

/// The socket a member receives the group's datagrams on: bound to the group's port on every
/// address with SO_REUSEADDR and SO_REUSEPORT (so several peers on one host can share it; each
/// gets a copy of every multicast datagram), joined to the group on `iface` (or the interface
/// the routing table picks). On Linux it takes only the groups it joined itself
/// (IP_MULTICAST_ALL off), not another group that happens to use the same port.
pub(crate) fn group_socket(group: &Group, iface: Option<Ipv4Addr>) -> anyhow::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .context("cannot create a UDP socket")?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    #[cfg(target_os = "linux")]
    socket.set_multicast_all_v4(false)?;
    let bind = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, group.port()));
    socket
        .bind(&bind.into())
        .with_context(|| format!("cannot bind UDP {bind} for group {}", group.name()))?;
    socket
        .join_multicast_v4(&group.addr(), &iface.unwrap_or(Ipv4Addr::UNSPECIFIED))
        .with_context(|| {
            format!(
                "cannot join multicast group {} on {}: is there a route for 224.0.0.0/4 (or a \
                 default route)? Otherwise name the interface with --iface",
                group.addr(),
                iface.map_or_else(|| "the default interface".to_owned(), |ip| ip.to_string())
            )
        })?;
    Ok(socket)
}

/// A socket to send multicast from: TTL `ttl` (0: this host only), looped back to members on
/// this host, leaving by `iface` if given. Bound to an ephemeral port.
pub(crate) fn sender_socket(ttl: u32, iface: Option<Ipv4Addr>) -> anyhow::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .context("cannot create a UDP socket")?;
    socket.set_multicast_ttl_v4(ttl)?;
    socket.set_multicast_loop_v4(true)?;
    if let Some(ip) = iface {
        socket
            .set_multicast_if_v4(&ip)
            .with_context(|| format!("--iface {ip}: not an address of this host's interfaces"))?;
    }
    let bind = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    socket
        .bind(&bind.into())
        .context("cannot bind a UDP socket")?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iface_is_an_address_or_a_named_interface() {
        assert_eq!(
            resolve_iface("10.1.2.3").unwrap(),
            Ipv4Addr::new(10, 1, 2, 3)
        );
        assert_eq!(resolve_iface("lo").unwrap(), Ipv4Addr::LOCALHOST);
        let e = resolve_iface("no-such-if0").unwrap_err().to_string();
        assert!(
            e.contains("no-such-if0") && e.contains("lo (127.0.0.1)"),
            "{e}"
        );
    }
}
