//! Sockets: the datagram transport the actors are generic over (UDP, and an in-memory network
//! for tests), and peer mode's multicast sockets.

pub(crate) mod multicast;
pub(crate) mod transport;
