//! The fixed 2256-byte header every bus message starts with, and the small types in it: node
//! names, the NUL-padded IP field, node flags and message flags. Multi-byte numbers are
//! big-endian on the wire.
//!
//! Header layout (byte offsets), as Redis 7.0 sends it:
//! `0` signature `RCmb` · `4` total length u32 · `8` protocol version u16 (1) · `10` port u16 ·
//! `12` type u16 · `14` count u16 · `16` current epoch u64 · `24` config epoch u64 ·
//! `32` replication offset u64 · `40` sender name (40) · `80` slot bitmap (2048) ·
//! `2128` replicaof name (40, zeros: none) · `2168` IP (46, NUL-padded, zeros: "use the
//! address the link comes from") · `2214` extension count u16 · `2216` reserved (30) ·
//! `2246` pport u16 · `2248` cport u16 · `2250` node flags u16 · `2252` cluster state u8 ·
//! `2253` message flags (3 bytes, only the first used) · `2256` the body.

use crate::slots::SlotBitmap;

/// The first four bytes of every message ("Redis Cluster message bus").
pub const SIGNATURE: &[u8; 4] = b"RCmb";

/// The only protocol version Redis 7.0 speaks; it ignores messages of any other.
pub const PROTOCOL_VERSION: u16 = 1;

/// The header's size: the smallest valid message, and where every body starts.
pub const HEADER_LEN: usize = 2256;

/// A node name's size: 40 hex characters, no terminator.
pub const NAME_LEN: usize = 40;

/// The IP field's size (room for an IPv6 address and its NUL).
pub const IP_FIELD_LEN: usize = 46;

/// A node's name (its id): 40 bytes on the wire, hex characters for every node Redis creates.
/// The bytes are kept as they came: a peer's name is its identity, valid or not.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeName(pub [u8; NAME_LEN]);

impl NodeName {
    /// The name `text` spells, or None when it is not 40 bytes long.
    pub fn parse(text: &str) -> Option<NodeName> {
        text.as_bytes().try_into().ok().map(NodeName)
    }

    /// All zeros: what the header's replicaof field holds for "none".
    pub fn is_null(&self) -> bool {
        self.0 == [0; NAME_LEN]
    }
}

impl std::fmt::Display for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::fmt::Debug for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeName({self})")
    }
}

/// The 46-byte IP field of the header and of gossip entries: up to 45 bytes of text, NUL
/// padded. Empty in a header means "the address the message came from".
#[derive(Clone, PartialEq, Eq, Default)]
pub struct BusIp(Vec<u8>);

impl BusIp {
    /// `text` as an IP field, or None when it cannot be one (longer than 45 bytes, or holding
    /// a NUL, which would cut it short on the other side).
    pub fn new(text: &[u8]) -> Option<BusIp> {
        (text.len() < IP_FIELD_LEN && !text.contains(&0)).then(|| BusIp(text.to_vec()))
    }

    /// The field read from the wire: the bytes before the first NUL, at most 45 of them
    /// (Redis terminates the field itself when a peer filled all 46 bytes).
    pub fn from_field(field: &[u8; IP_FIELD_LEN]) -> BusIp {
        let text = &field[..IP_FIELD_LEN - 1];
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        BusIp(text[..end].to_vec())
    }

    /// The field as the wire carries it.
    pub fn to_field(&self) -> [u8; IP_FIELD_LEN] {
        let mut field = [0; IP_FIELD_LEN];
        field[..self.0.len()].copy_from_slice(&self.0);
        field
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for BusIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BusIp({})", String::from_utf8_lossy(&self.0))
    }
}

/// A node's flags as the header (the sender's) and gossip entries (the node described) carry
/// them. Bits Redis 7.0 does not define are kept as they came.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct NodeFlags(pub u16);

impl NodeFlags {
    pub const MASTER: NodeFlags = NodeFlags(1);
    pub const REPLICA: NodeFlags = NodeFlags(1 << 1);
    /// Possibly failing: this node's own, unconfirmed, view.
    pub const PFAIL: NodeFlags = NodeFlags(1 << 2);
    /// Failing, agreed by a majority of masters.
    pub const FAIL: NodeFlags = NodeFlags(1 << 3);
    pub const MYSELF: NodeFlags = NodeFlags(1 << 4);
    /// Not yet through the first PING/PONG exchange.
    pub const HANDSHAKE: NodeFlags = NodeFlags(1 << 5);
    /// No known address.
    pub const NOADDR: NodeFlags = NodeFlags(1 << 6);
    /// To be sent a MEET rather than a PING.
    pub const MEET: NodeFlags = NodeFlags(1 << 7);
    /// A master eligible for replica migration.
    pub const MIGRATE_TO: NodeFlags = NodeFlags(1 << 8);
    /// A replica that never fails over (`cluster-replica-no-failover`).
    pub const NOFAILOVER: NodeFlags = NodeFlags(1 << 9);

    pub fn contains(self, other: NodeFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for NodeFlags {
    type Output = NodeFlags;
    fn bitor(self, other: NodeFlags) -> NodeFlags {
        NodeFlags(self.0 | other.0)
    }
}

impl std::fmt::Debug for NodeFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeFlags({:#x})", self.0)
    }
}

/// The first message-flags byte (the other two are reserved and sent as zeros).
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct MessageFlags(pub u8);

impl MessageFlags {
    /// The sender, a master, has paused its clients for a manual failover.
    pub const PAUSED: MessageFlags = MessageFlags(1);
    /// A FAILOVER_AUTH_REQUEST to be voted for even though the master is not failing
    /// (manual failover).
    pub const FORCE_ACK: MessageFlags = MessageFlags(1 << 1);
    /// PING/PONG/MEET extensions follow the gossip section. The encoder sets it whenever
    /// there are extensions; a receiver reads them only when it is set.
    pub const EXT_DATA: MessageFlags = MessageFlags(1 << 2);

    pub fn contains(self, other: MessageFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for MessageFlags {
    type Output = MessageFlags;
    fn bitor(self, other: MessageFlags) -> MessageFlags {
        MessageFlags(self.0 | other.0)
    }
}

impl std::fmt::Debug for MessageFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageFlags({:#x})", self.0)
    }
}

/// The cluster state byte: the sender's view of the whole cluster.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct ClusterState(pub u8);

impl ClusterState {
    pub const OK: ClusterState = ClusterState(0);
    pub const FAIL: ClusterState = ClusterState(1);
}

/// What a message says about its sender. The type, count, extension count and total length
/// are not here: they follow from the body, and the encoder writes them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Header {
    /// The client port (the TLS one when the node serves TLS).
    pub port: u16,
    /// The plaintext client port when `port` is TLS, else 0.
    pub pport: u16,
    /// The cluster bus port.
    pub cport: u16,
    pub current_epoch: u64,
    /// The sender's config epoch, or its master's when it is a replica.
    pub config_epoch: u64,
    /// A master's replication offset, or the offset a replica has processed.
    pub offset: u64,
    pub sender: NodeName,
    /// The slots the sender serves (its master's, when it is a replica).
    pub slots: SlotBitmap,
    pub replicaof: Option<NodeName>,
    /// The sender's announced IP; empty: the address its link comes from.
    pub ip: BusIp,
    pub flags: NodeFlags,
    pub state: ClusterState,
    pub mflags: MessageFlags,
}

impl Header {
    /// A master `sender` with no slots, epochs 0, offset 0, no announced IP, state OK.
    pub fn new(sender: NodeName, port: u16, cport: u16) -> Header {
        Header {
            port,
            pport: 0,
            cport,
            current_epoch: 0,
            config_epoch: 0,
            offset: 0,
            sender,
            slots: SlotBitmap::new(),
            replicaof: None,
            ip: BusIp::default(),
            flags: NodeFlags::MASTER,
            state: ClusterState::OK,
            mflags: MessageFlags::default(),
        }
    }
}
