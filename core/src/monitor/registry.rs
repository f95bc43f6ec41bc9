//! The node registry: a slab of fixed-size records and a hash index over their ids.
//!
//! Slots are stable (a freed slot is reused, with its generation bumped), so the deadline heap
//! can refer to nodes by slot. The index stores only slot numbers; ids live once, in the slab.
//! The hash is seeded by the caller (no hidden randomness; a per-process seed resists
//! hash-flooding with chosen ids).

use core::hash::BuildHasher;
use core::net::SocketAddr;
use core::time::Duration;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::detector::DetectorState;
use crate::id::NodeId;
use crate::time::Timestamp;

/// A node's liveness state as the monitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum NodeState {
    /// Beating within its detector's bound.
    Alive,
    /// Its detector crossed the threshold and no fresh beat has come since.
    Down,
    /// It said goodbye.
    Left,
    /// Silent while the monitor itself seemed cut off: held (not reported down) until beats
    /// return or the isolation hold passes (see [`crate::Isolation`]).
    Unreachable,
}

impl NodeState {
    /// Every state, in a fixed order.
    pub const ALL: [Self; 4] = [Self::Alive, Self::Down, Self::Left, Self::Unreachable];

    /// Stable lowercase name (`alive`, `down`, `left`, `unreachable`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Down => "down",
            Self::Left => "left",
            Self::Unreachable => "unreachable",
        }
    }
}

/// Where an alive node stands against its quiet mark (see `isolation.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Quiet {
    /// Before its quiet mark (or not alive).
    No,
    /// Past its quiet mark: counted as unusually silent.
    Yes,
    /// Past its deadline too, its verdict deferred by one period because nearly enough others
    /// were silent as well.
    Deferred,
    /// Held unreachable (not alive): [`Vote::Confirming`], stored here to keep the record small.
    Confirming,
    /// Held unreachable (not alive): [`Vote::Reported`].
    Reported,
}

/// Whether a node held [`NodeState::Unreachable`] waits for the witnesses (see `witness.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Vote {
    /// Not held for the witnesses (alive, down, left, or held by the isolation guard).
    No,
    /// Convicted here; waiting one period for the witnesses to agree.
    Confirming,
    /// Reported unreachable: the witnesses did not agree (yet).
    Reported,
}

impl Quiet {
    /// Past the quiet mark (deferred or not).
    pub(crate) fn is(self) -> bool {
        matches!(self, Self::Yes | Self::Deferred)
    }
}

/// One node's record. Fixed size (see the `node_record_is_small` test).
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) addr: SocketAddr,
    pub(crate) incarnation: u64,
    /// Highest sequence number seen in this incarnation.
    pub(crate) seq: u64,
    /// Bit i set: sequence number `seq − 1 − i` was seen.
    pub(crate) window: u64,
    /// Receive time of the latest fresh beat.
    pub(crate) last: Timestamp,
    /// When `state` last changed.
    pub(crate) since: Timestamp,
    /// Time of this node's live deadline-heap entry, or `Timestamp::MAX` for none.
    pub(crate) scheduled: Timestamp,
    /// The detector's deadline from `last` (kept current on every fresh beat, so the hot path
    /// computes it once per beat).
    pub(crate) deadline: Timestamp,
    pub(crate) det: DetectorState,
    pub(crate) beats: u64,
    pub(crate) lost: u32,
    pub(crate) duplicates: u32,
    pub(crate) reordered: u32,
    /// Advertised beat period in µs (saturated to u32: ~71 minutes).
    pub(crate) period_us: u32,
    pub(crate) generation: u32,
    pub(crate) state: NodeState,
    /// Alive and silent past its quiet mark (counted in the isolation check), and whether its
    /// verdict was deferred (see `isolation.rs`); when held unreachable, whether it waits for
    /// the witnesses ([`Node::vote`]).
    pub(crate) quiet: Quiet,
    /// Its zone (an index into the monitor's zone table), or `NO_ZONE`.
    pub(crate) zone: u8,
    pub(crate) occupied: bool,
}

impl Node {
    pub(crate) fn period(&self) -> Duration {
        Duration::from_micros(u64::from(self.period_us))
    }

    /// Held unreachable for the witnesses' agreement, and how far that went.
    pub(crate) fn vote(&self) -> Vote {
        match self.quiet {
            Quiet::Confirming => Vote::Confirming,
            Quiet::Reported => Vote::Reported,
            _ => Vote::No,
        }
    }

    pub(crate) fn set_vote(&mut self, vote: Vote) {
        self.quiet = match vote {
            Vote::Confirming => Quiet::Confirming,
            Vote::Reported => Quiet::Reported,
            Vote::No if self.vote() != Vote::No => Quiet::No,
            Vote::No => self.quiet,
        };
    }
}

/// Slab + index.
#[derive(Debug)]
pub(crate) struct Registry {
    slots: Vec<Node>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: FixedState,
}

impl Registry {
    pub(crate) fn new(hash_seed: u64) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: FixedState::with_seed(hash_seed),
        }
    }

    pub(crate) fn with_capacity(hash_seed: u64, n: usize) -> Self {
        let mut r = Self::new(hash_seed);
        r.slots.reserve(n);
        r.index.reserve(n, |_| 0);
        r
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn find(&self, id: &str) -> Option<u32> {
        let h = self.hasher.hash_one(id);
        self.index
            .find(h, |&s| self.slots[s as usize].id.as_str() == id)
            .copied()
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&Node> {
        self.slots.get(slot as usize).filter(|n| n.occupied)
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.slots[slot as usize]
    }

    /// Inserts a node whose id is not present; returns its slot.
    pub(crate) fn insert(&mut self, mut node: Node) -> u32 {
        let h = self.hasher.hash_one(node.id.as_str());
        node.occupied = true;
        let slot = match self.free.pop() {
            Some(s) => {
                node.generation = self.slots[s as usize].generation.wrapping_add(1);
                self.slots[s as usize] = node;
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("registry is bounded by max_nodes");
                self.slots.push(node);
                s
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(h, slot, |&s| hasher.hash_one(slots[s as usize].id.as_str()));
        slot
    }

    /// Removes the node in `slot`, returning its id.
    pub(crate) fn remove(&mut self, slot: u32) -> NodeId {
        let node = &mut self.slots[slot as usize];
        let h = self.hasher.hash_one(node.id.as_str());
        node.occupied = false;
        let id = core::mem::replace(&mut node.id, NodeId::new("-").expect("valid id"));
        if let Ok(entry) = self.index.find_entry(h, |&s| s == slot) {
            entry.remove();
        }
        self.free.push(slot);
        id
    }

    /// Occupied nodes in slot order (deterministic for a given input history).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Node)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, n)| n.occupied)
            .map(|(i, n)| (i as u32, n))
    }

    /// Heap bytes held by the registry (slab, index, free list).
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Node>()
            + self.index.allocation_size()
            + self.free.capacity() * 4
    }
}
