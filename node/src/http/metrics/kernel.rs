//! The kernel's count of datagrams it dropped for a listener because the socket's receive
//! buffer was full: the `drops` column of `/proc/net/udp` and `/proc/net/udp6` (Linux), found
//! by the socket's inode. Elsewhere the tables do not exist and the family is absent.

use std::collections::BTreeMap;

/// The tables read, IPv4 and IPv6.
const TABLES: [&str; 2] = ["/proc/net/udp", "/proc/net/udp6"];

/// Each listener's (URL's) kernel drop count, from its socket's inode; `None` if no table can
/// be read (not Linux, or /proc not mounted). A listener whose socket is not listed is left out.
pub(crate) fn receive_buffer_drops(sockets: &[(String, u64)]) -> Option<Vec<(String, u64)>> {
    let tables: Vec<String> = TABLES
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .collect();
    if tables.is_empty() {
        return None;
    }
    let drops: BTreeMap<u64, u64> = tables.iter().flat_map(|t| parse(t)).collect();
    Some(
        sockets
            .iter()
            .filter_map(|(url, inode)| Some((url.clone(), *drops.get(inode)?)))
            .collect(),
    )
}

/// `(inode, drops)` of every row of a `/proc/net/udp{,6}` table (header skipped, rows that do
/// not read as such ignored).
fn parse(table: &str) -> impl Iterator<Item = (u64, u64)> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let inode = f.get(9)?.parse().ok()?;
        let drops = f.get(12)?.parse().ok()?;
        Some((inode, drops))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_read_by_inode_from_the_last_column() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
          1021: 0100007F:A8C1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
          1022: 0100007F:A8C2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 0\n\
          garbage\n";
        let rows: Vec<(u64, u64)> = parse(table).collect();
        assert_eq!(rows, [(4242, 17), (4343, 0)]);
    }

    #[test]
    fn a_bound_socket_of_this_process_is_found_with_zero_drops() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let inode = {
            use std::os::fd::AsFd as _;
            use std::os::unix::fs::MetadataExt as _;
            let fd = socket.as_fd().try_clone_to_owned().unwrap();
            std::fs::File::from(fd).metadata().unwrap().ino()
        };
        let url = format!("udp://{}", socket.local_addr().unwrap());
        let got = receive_buffer_drops(&[(url.clone(), inode), ("gone".into(), u64::MAX)]);
        if cfg!(target_os = "linux") {
            assert_eq!(got, Some(vec![(url, 0)]));
        } else {
            assert_eq!(got, None);
        }
    }
}
