//! Whole messages: the header, then a body whose layout the type decides, encoded to and
//! decoded from the bytes Redis 7.0 exchanges. Decoding checks a message's length against its
//! type the way Redis does before it acts on one, and reports anything wrong as a
//! [`DecodeError`], never a panic.
//!
//! Body layouts (after the 2256-byte header, big-endian numbers):
//! - PING, PONG, MEET: `count` gossip entries of 104 bytes (name 40, ping_sent u32 and
//!   pong_received u32 in seconds, IP 46, port u16, cport u16, flags u16, pport u16, 2
//!   reserved), then, when the EXT_DATA message flag is set, `extensions` extensions: length
//!   u32 (its 8-byte header and padding included, a multiple of 8), type u16, 2 reserved,
//!   data. Redis 7.0 defines one type, 0: the hostname, NUL-terminated, zero-padded.
//! - FAIL: the failing node's name (40).
//! - PUBLISH, PUBLISHSHARD: channel length u32, message length u32, the channel, the message.
//! - FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: nothing.
//! - UPDATE: config epoch u64, node name (40), slot bitmap (2048).
//! - MODULE: module id (8 opaque bytes), payload length u32, module message type u8, payload.

use crate::header::{
    BusIp, ClusterState, Header, MessageFlags, NodeFlags, NodeName, HEADER_LEN, IP_FIELD_LEN,
    NAME_LEN, PROTOCOL_VERSION, SIGNATURE,
};
use crate::slots::{SlotBitmap, SLOT_BITMAP_LEN};

/// A gossip entry's size.
pub const GOSSIP_LEN: usize = 104;

/// An extension's own header: length u32, type u16, 2 reserved bytes.
pub const EXTENSION_HEADER_LEN: usize = 8;

/// The extension type of the announced hostname, the only one Redis 7.0 defines.
pub const EXTENSION_HOSTNAME: u16 = 0;

/// UPDATE's body: config epoch, node name, slot bitmap.
const UPDATE_LEN: usize = 8 + NAME_LEN + SLOT_BITMAP_LEN;

/// PUBLISH's fixed part: the two lengths.
const PUBLISH_FIXED_LEN: usize = 8;

/// MODULE's fixed part: module id, payload length, message type.
const MODULE_FIXED_LEN: usize = 8 + 4 + 1;

/// The message types and their numbers on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum MessageType {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    FailoverAuthRequest = 5,
    FailoverAuthAck = 6,
    Update = 7,
    MfStart = 8,
    Module = 9,
    PublishShard = 10,
}

impl MessageType {
    /// Every type, in wire order (Redis keeps per-type counters in this order).
    pub const ALL: [MessageType; 11] = [
        MessageType::Ping,
        MessageType::Pong,
        MessageType::Meet,
        MessageType::Fail,
        MessageType::Publish,
        MessageType::FailoverAuthRequest,
        MessageType::FailoverAuthAck,
        MessageType::Update,
        MessageType::MfStart,
        MessageType::Module,
        MessageType::PublishShard,
    ];

    pub fn from_wire(value: u16) -> Option<MessageType> {
        MessageType::ALL.get(usize::from(value)).copied()
    }

    /// The name CLUSTER INFO's message counters use (`cluster_stats_messages_<name>_sent`).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Ping => "ping",
            MessageType::Pong => "pong",
            MessageType::Meet => "meet",
            MessageType::Fail => "fail",
            MessageType::Publish => "publish",
            MessageType::FailoverAuthRequest => "auth-req",
            MessageType::FailoverAuthAck => "auth-ack",
            MessageType::Update => "update",
            MessageType::MfStart => "mfstart",
            MessageType::Module => "module",
            MessageType::PublishShard => "publishshard",
        }
    }
}

/// One gossip entry: what the sender knows of another node.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Gossip {
    pub name: NodeName,
    /// When the sender last pinged the node with no answer yet, in seconds; 0: none pending.
    pub ping_sent: u32,
    /// When the sender last heard a PONG from the node, in seconds.
    pub pong_received: u32,
    pub ip: BusIp,
    pub port: u16,
    pub cport: u16,
    pub flags: NodeFlags,
    pub pport: u16,
}

/// A PING/PONG/MEET extension.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Extension {
    /// The sender's announced hostname (`cluster-announce-hostname`), without its NUL; a
    /// receiver stops at the first NUL, so the name cannot hold one.
    Hostname(Vec<u8>),
    /// A type Redis 7.0 does not know (later versions add forgotten nodes, shard ids...): its
    /// data, padding included, kept so it can be passed on or skipped.
    Other { kind: u16, data: Vec<u8> },
}

/// The body of PING, PONG and MEET.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Heartbeat {
    pub gossip: Vec<Gossip>,
    pub extensions: Vec<Extension>,
}

/// A PUBLISH or PUBLISHSHARD payload.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Publication {
    pub channel: Vec<u8>,
    pub message: Vec<u8>,
}

/// What a message carries after its header.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    Ping(Heartbeat),
    Pong(Heartbeat),
    Meet(Heartbeat),
    /// `about` has been agreed to be failing.
    Fail {
        about: NodeName,
    },
    Publish(Publication),
    PublishShard(Publication),
    /// A replica asks the masters to vote for its failover; the header holds its master's
    /// config epoch and slots.
    FailoverAuthRequest,
    /// A master's vote.
    FailoverAuthAck,
    /// A replica asks its master to pause clients for a manual failover.
    MfStart,
    /// `node` serves `slots` as of `config_epoch`: sent to a node whose view is stale.
    Update {
        config_epoch: u64,
        node: NodeName,
        /// Boxed: 2 KiB would make every other body as large.
        slots: Box<SlotBitmap>,
    },
    /// A module's message (RM_SendClusterMessage).
    Module {
        module_id: [u8; 8],
        kind: u8,
        payload: Vec<u8>,
    },
}

impl Body {
    pub fn message_type(&self) -> MessageType {
        match self {
            Body::Ping(_) => MessageType::Ping,
            Body::Pong(_) => MessageType::Pong,
            Body::Meet(_) => MessageType::Meet,
            Body::Fail { .. } => MessageType::Fail,
            Body::Publish(_) => MessageType::Publish,
            Body::PublishShard(_) => MessageType::PublishShard,
            Body::FailoverAuthRequest => MessageType::FailoverAuthRequest,
            Body::FailoverAuthAck => MessageType::FailoverAuthAck,
            Body::MfStart => MessageType::MfStart,
            Body::Update { .. } => MessageType::Update,
            Body::Module { .. } => MessageType::Module,
        }
    }

    fn heartbeat(&self) -> Option<&Heartbeat> {
        match self {
            Body::Ping(beat) | Body::Pong(beat) | Body::Meet(beat) => Some(beat),
            _ => None,
        }
    }
}

/// One bus message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Why bytes are not a message a Redis 7.0 node would act on. Redis ignores such a message
/// and keeps the link, except for the framing errors [`frame_len`] reports, after which a
/// stream cannot be resynchronised and the link is closed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DecodeError {
    /// The first four bytes are not `RCmb`.
    BadSignature,
    /// The total length field is below the header's size.
    TooShort { declared: u32 },
    /// The total length field disagrees with the bytes given.
    LengthMismatch { declared: u32, actual: usize },
    /// A protocol version other than 1.
    UnsupportedVersion(u16),
    /// A type number Redis 7.0 does not define.
    UnknownType(u16),
    /// The length does not fit the type (and its counts), as Redis's checks compute it.
    BadLength {
        kind: MessageType,
        expected: usize,
        actual: usize,
    },
    /// An extension's length is below its header's, not a multiple of 8, or past the end.
    BadExtension { length: u32 },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadSignature => write!(f, "bad cluster bus signature"),
            DecodeError::TooShort { declared } => {
                write!(
                    f,
                    "cluster bus message length {declared} is below the header's {HEADER_LEN}"
                )
            }
            DecodeError::LengthMismatch { declared, actual } => {
                write!(
                    f,
                    "cluster bus message declares {declared} bytes but has {actual}"
                )
            }
            DecodeError::UnsupportedVersion(v) => write!(f, "cluster bus protocol version {v}"),
            DecodeError::UnknownType(t) => write!(f, "unknown cluster bus message type {t}"),
            DecodeError::BadLength {
                kind,
                expected,
                actual,
            } => write!(
                f,
                "invalid {} message of length {actual}, expected {expected}",
                kind.name()
            ),
            DecodeError::BadExtension { length } => {
                write!(f, "invalid ping extension length {length}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// How long the message at the start of a stream's buffered bytes is: None until its first 8
/// bytes are there, an error when they cannot start a message (the link must then close).
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < 8 {
        // The signature can be refused before the length arrives.
        let seen = buf.len().min(4);
        if buf[..seen] != SIGNATURE[..seen] {
            return Err(DecodeError::BadSignature);
        }
        return Ok(None);
    }
    if &buf[..4] != SIGNATURE {
        return Err(DecodeError::BadSignature);
    }
    let declared = u32::from_be_bytes(buf[4..8].try_into().unwrap());
    if (declared as usize) < HEADER_LEN {
        return Err(DecodeError::TooShort { declared });
    }
    Ok(Some(declared as usize))
}

impl Message {
    pub fn new(header: Header, body: Body) -> Message {
        Message { header, body }
    }

    pub fn message_type(&self) -> MessageType {
        self.body.message_type()
    }

    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// How many bytes [`Message::encode`] produces.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + match &self.body {
                Body::Ping(beat) | Body::Pong(beat) | Body::Meet(beat) => {
                    beat.gossip.len() * GOSSIP_LEN
                        + beat.extensions.iter().map(extension_len).sum::<usize>()
                }
                Body::Fail { .. } => NAME_LEN,
                Body::Publish(p) | Body::PublishShard(p) => {
                    PUBLISH_FIXED_LEN + p.channel.len() + p.message.len()
                }
                Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => 0,
                Body::Update { .. } => UPDATE_LEN,
                Body::Module { payload, .. } => MODULE_FIXED_LEN + payload.len(),
            }
    }

    /// Appends the message's bytes to `out`. The type, count, extension count and total length
    /// come from the body; EXT_DATA is added to the message flags when there are extensions.
    /// Panics when a count does not fit its 16-bit field or the length its 32-bit one
    /// (65536 gossip entries, a 4 GiB message): callers never build such messages.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let h = &self.header;
        let beat = self.body.heartbeat();
        let count = beat.map_or(0, |b| b.gossip.len());
        let extensions = beat.map_or(0, |b| b.extensions.len());
        let mut mflags = h.mflags;
        if extensions > 0 {
            mflags = mflags | MessageFlags::EXT_DATA;
        }
        let total = u32::try_from(self.encoded_len()).expect("a bus message under 4 GiB");
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        out.extend_from_slice(&h.port.to_be_bytes());
        out.extend_from_slice(&(self.message_type() as u16).to_be_bytes());
        out.extend_from_slice(&u16::try_from(count).expect("gossip count").to_be_bytes());
        out.extend_from_slice(&h.current_epoch.to_be_bytes());
        out.extend_from_slice(&h.config_epoch.to_be_bytes());
        out.extend_from_slice(&h.offset.to_be_bytes());
        out.extend_from_slice(&h.sender.0);
        out.extend_from_slice(h.slots.as_bytes());
        out.extend_from_slice(&h.replicaof.map_or([0; NAME_LEN], |n| n.0));
        out.extend_from_slice(&h.ip.to_field());
        out.extend_from_slice(
            &u16::try_from(extensions)
                .expect("extension count")
                .to_be_bytes(),
        );
        out.extend_from_slice(&[0; 30]);
        out.extend_from_slice(&h.pport.to_be_bytes());
        out.extend_from_slice(&h.cport.to_be_bytes());
        out.extend_from_slice(&h.flags.0.to_be_bytes());
        out.push(h.state.0);
        out.extend_from_slice(&[mflags.0, 0, 0]);
        match &self.body {
            Body::Ping(beat) | Body::Pong(beat) | Body::Meet(beat) => {
                for g in &beat.gossip {
                    encode_gossip(g, out);
                }
                for ext in &beat.extensions {
                    encode_extension(ext, out);
                }
            }
            Body::Fail { about } => out.extend_from_slice(&about.0),
            Body::Publish(p) | Body::PublishShard(p) => {
                let channel_len = u32::try_from(p.channel.len()).expect("channel under 4 GiB");
                let message_len = u32::try_from(p.message.len()).expect("message under 4 GiB");
                out.extend_from_slice(&channel_len.to_be_bytes());
                out.extend_from_slice(&message_len.to_be_bytes());
                out.extend_from_slice(&p.channel);
                out.extend_from_slice(&p.message);
            }
            Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => {}
            Body::Update {
                config_epoch,
                node,
                slots,
            } => {
                out.extend_from_slice(&config_epoch.to_be_bytes());
                out.extend_from_slice(&node.0);
                out.extend_from_slice(slots.as_bytes());
            }
            Body::Module {
                module_id,
                kind,
                payload,
            } => {
                out.extend_from_slice(module_id);
                let len = u32::try_from(payload.len()).expect("payload under 4 GiB");
                out.extend_from_slice(&len.to_be_bytes());
                out.push(*kind);
                out.extend_from_slice(payload);
            }
        }
    }

    /// Decodes exactly one message (`buf` is the whole frame, as [`frame_len`] delimits it).
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let declared = match frame_len(buf)? {
            Some(declared) => declared,
            None => {
                return Err(DecodeError::LengthMismatch {
                    declared: 0,
                    actual: buf.len(),
                })
            }
        };
        if declared != buf.len() {
            return Err(DecodeError::LengthMismatch {
                declared: declared as u32,
                actual: buf.len(),
            });
        }
        let mut r = Reader::new(&buf[8..]);
        let version = r.u16();
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let port = r.u16();
        let type_number = r.u16();
        let kind =
            MessageType::from_wire(type_number).ok_or(DecodeError::UnknownType(type_number))?;
        let count = usize::from(r.u16());
        let current_epoch = r.u64();
        let config_epoch = r.u64();
        let offset = r.u64();
        let sender = NodeName(r.array());
        let slots = SlotBitmap::from_bytes(r.array());
        let replicaof = Some(NodeName(r.array())).filter(|n| !n.is_null());
        let ip = BusIp::from_field(&r.array());
        let extensions = r.u16();
        r.skip(30);
        let pport = r.u16();
        let cport = r.u16();
        let flags = NodeFlags(r.u16());
        let state = ClusterState(r.u8());
        let mflags = MessageFlags(r.u8());
        r.skip(2);
        let header = Header {
            port,
            pport,
            cport,
            current_epoch,
            config_epoch,
            offset,
            sender,
            slots,
            replicaof,
            ip,
            flags,
            state,
            mflags,
        };
        let body = decode_body(kind, count, extensions, mflags, &buf[HEADER_LEN..])?;
        Ok(Message { header, body })
    }
}

/// The body of a `kind` message, its length checked first.
fn decode_body(
    kind: MessageType,
    count: usize,
    extensions: u16,
    mflags: MessageFlags,
    body: &[u8],
) -> Result<Body, DecodeError> {
    let expect = |expected: usize| {
        if body.len() == expected {
            Ok(())
        } else {
            Err(DecodeError::BadLength {
                kind,
                expected: HEADER_LEN + expected,
                actual: HEADER_LEN + body.len(),
            })
        }
    };
    let mut r = Reader::new(body);
    Ok(match kind {
        MessageType::Ping | MessageType::Pong | MessageType::Meet => {
            let beat = decode_heartbeat(kind, count, extensions, mflags, body)?;
            match kind {
                MessageType::Ping => Body::Ping(beat),
                MessageType::Pong => Body::Pong(beat),
                _ => Body::Meet(beat),
            }
        }
        MessageType::Fail => {
            expect(NAME_LEN)?;
            Body::Fail {
                about: NodeName(r.array()),
            }
        }
        MessageType::Publish | MessageType::PublishShard => {
            let lengths = if body.len() >= PUBLISH_FIXED_LEN {
                let channel = r.u32() as usize;
                let message = r.u32() as usize;
                Some((channel, message))
            } else {
                None
            };
            let (channel_len, message_len) = lengths.unwrap_or((0, 0));
            // Checked in u64: two hostile u32 lengths must not wrap.
            let expected = PUBLISH_FIXED_LEN as u64 + channel_len as u64 + message_len as u64;
            if lengths.is_none() || expected != body.len() as u64 {
                return Err(DecodeError::BadLength {
                    kind,
                    expected: HEADER_LEN + expected as usize,
                    actual: HEADER_LEN + body.len(),
                });
            }
            let publication = Publication {
                channel: r.bytes(channel_len).to_vec(),
                message: r.bytes(message_len).to_vec(),
            };
            if kind == MessageType::Publish {
                Body::Publish(publication)
            } else {
                Body::PublishShard(publication)
            }
        }
        MessageType::FailoverAuthRequest => {
            expect(0)?;
            Body::FailoverAuthRequest
        }
        MessageType::FailoverAuthAck => {
            expect(0)?;
            Body::FailoverAuthAck
        }
        MessageType::MfStart => {
            expect(0)?;
            Body::MfStart
        }
        MessageType::Update => {
            expect(UPDATE_LEN)?;
            Body::Update {
                config_epoch: r.u64(),
                node: NodeName(r.array()),
                slots: Box::new(SlotBitmap::from_bytes(r.array())),
            }
        }
        MessageType::Module => {
            if body.len() < MODULE_FIXED_LEN {
                expect(MODULE_FIXED_LEN)?;
            }
            let module_id = r.array();
            let len = r.u32() as usize;
            expect(MODULE_FIXED_LEN + len)?;
            Body::Module {
                module_id,
                kind: r.u8(),
                payload: r.bytes(len).to_vec(),
            }
        }
    })
}

/// PING/PONG/MEET: `count` gossip entries, then the extensions when EXT_DATA says they are
/// there, which must end exactly at the message's end.
fn decode_heartbeat(
    kind: MessageType,
    count: usize,
    extensions: u16,
    mflags: MessageFlags,
    body: &[u8],
) -> Result<Heartbeat, DecodeError> {
    let gossip_len = count * GOSSIP_LEN;
    let bad_length = |expected: usize| DecodeError::BadLength {
        kind,
        expected: HEADER_LEN + expected,
        actual: HEADER_LEN + body.len(),
    };
    if body.len() < gossip_len {
        return Err(bad_length(gossip_len));
    }
    let mut r = Reader::new(body);
    let gossip = (0..count).map(|_| decode_gossip(&mut r)).collect();
    let mut exts = Vec::new();
    if mflags.contains(MessageFlags::EXT_DATA) {
        for _ in 0..extensions {
            if r.remaining() < EXTENSION_HEADER_LEN {
                return Err(bad_length(
                    body.len() - r.remaining() + EXTENSION_HEADER_LEN,
                ));
            }
            let length = r.u32();
            let len = length as usize;
            if len < EXTENSION_HEADER_LEN || !len.is_multiple_of(8) || len - 4 > r.remaining() {
                return Err(DecodeError::BadExtension { length });
            }
            let ext_kind = r.u16();
            r.skip(2);
            let data = r.bytes(len - EXTENSION_HEADER_LEN);
            exts.push(match ext_kind {
                EXTENSION_HOSTNAME => {
                    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                    Extension::Hostname(data[..end].to_vec())
                }
                other => Extension::Other {
                    kind: other,
                    data: data.to_vec(),
                },
            });
        }
    }
    if r.remaining() != 0 {
        return Err(bad_length(body.len() - r.remaining()));
    }
    Ok(Heartbeat {
        gossip,
        extensions: exts,
    })
}

fn decode_gossip(r: &mut Reader) -> Gossip {
    let name = NodeName(r.array());
    let ping_sent = r.u32();
    let pong_received = r.u32();
    let ip = BusIp::from_field(&r.array::<IP_FIELD_LEN>());
    let port = r.u16();
    let cport = r.u16();
    let flags = NodeFlags(r.u16());
    let pport = r.u16();
    r.skip(2);
    Gossip {
        name,
        ping_sent,
        pong_received,
        ip,
        port,
        cport,
        flags,
        pport,
    }
}

fn encode_gossip(g: &Gossip, out: &mut Vec<u8>) {
    out.extend_from_slice(&g.name.0);
    out.extend_from_slice(&g.ping_sent.to_be_bytes());
    out.extend_from_slice(&g.pong_received.to_be_bytes());
    out.extend_from_slice(&g.ip.to_field());
    out.extend_from_slice(&g.port.to_be_bytes());
    out.extend_from_slice(&g.cport.to_be_bytes());
    out.extend_from_slice(&g.flags.0.to_be_bytes());
    out.extend_from_slice(&g.pport.to_be_bytes());
    out.extend_from_slice(&[0; 2]);
}

/// An extension's size on the wire: its header and its data padded to 8 bytes (a hostname
/// with its NUL).
fn extension_len(ext: &Extension) -> usize {
    let data = match ext {
        Extension::Hostname(name) => name.len() + 1,
        Extension::Other { data, .. } => data.len(),
    };
    EXTENSION_HEADER_LEN + data.div_ceil(8) * 8
}

fn encode_extension(ext: &Extension, out: &mut Vec<u8>) {
    let len = extension_len(ext);
    let start = out.len();
    let (kind, data) = match ext {
        Extension::Hostname(name) => (EXTENSION_HOSTNAME, name.as_slice()),
        Extension::Other { kind, data } => (*kind, data.as_slice()),
    };
    out.extend_from_slice(
        &u32::try_from(len)
            .expect("extension under 4 GiB")
            .to_be_bytes(),
    );
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&[0; 2]);
    out.extend_from_slice(data);
    // The hostname's NUL and the padding.
    out.resize(start + len, 0);
}

/// Reads fields in order from a slice whose length the caller has checked: a read past the
/// end yields zeros rather than panicking, so a checking mistake cannot crash the server.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.buf.len());
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        head
    }

    fn skip(&mut self, n: usize) {
        self.bytes(n);
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let bytes = self.bytes(N);
        out[..bytes.len()].copy_from_slice(bytes);
        out
    }

    fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
}
