//! The Redis Cluster bus's binary protocol, exactly as Redis 7.0 speaks it: the messages nodes
//! exchange on their bus port (client port + 10000 by default), encoded to and decoded from
//! bytes. Nothing here opens a socket or keeps cluster state: the server's cluster subsystem
//! decides what to send and what a message means; this crate only knows the format, so that
//! redis-lite nodes and real Redis 7.0 nodes understand each other.
//!
//! Layout:
//! - [`header`]: the 2256-byte header every message starts with ([`Header`]) and its small
//!   types: [`NodeName`], [`BusIp`], [`NodeFlags`], [`MessageFlags`], [`ClusterState`].
//! - [`slots`]: the 16384-bit slot bitmap ([`SlotBitmap`]) in the wire's bit order.
//! - [`message`]: whole messages ([`Message`] = header + [`Body`]): PING/PONG/MEET with their
//!   gossip entries and extensions ([`Heartbeat`], [`Gossip`], [`Extension`]), FAIL,
//!   PUBLISH/PUBLISHSHARD, FAILOVER_AUTH_REQUEST/ACK, UPDATE, MFSTART, MODULE;
//!   [`Message::encode`], [`Message::decode`] (lengths checked against the type as Redis
//!   checks them, [`DecodeError`] for anything else, never a panic) and [`frame_len`] to cut a
//!   byte stream into messages.
//!
//! Derived from Redis's documentation of the cluster bus and from captures of what Redis
//! 7.0.15 sends (see `tests/interop.rs`, which talks to real nodes).

pub mod header;
pub mod message;
pub mod slots;

pub use header::{
    BusIp, ClusterState, Header, MessageFlags, NodeFlags, NodeName, HEADER_LEN, NAME_LEN,
    PROTOCOL_VERSION, SIGNATURE,
};
pub use message::{
    frame_len, Body, DecodeError, Extension, Gossip, Heartbeat, Message, MessageType, Publication,
    GOSSIP_LEN,
};
pub use slots::{SlotBitmap, SLOT_BITMAP_LEN, SLOT_COUNT};
