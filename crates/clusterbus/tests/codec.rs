//! The codec on its own: a MEET captured from Redis 7.0.15 decodes field by field and encodes
//! back to the same bytes; every message type round-trips; lengths that do not fit the type
//! are refused; random, truncated and mutated bytes never panic.

use proptest::collection::vec;
use proptest::prelude::*;
use redis_lite_clusterbus::{
    frame_len, Body, BusIp, ClusterState, DecodeError, Extension, Gossip, Header, Heartbeat,
    Message, MessageFlags, MessageType, NodeFlags, NodeName, Publication, SlotBitmap, HEADER_LEN,
    SLOT_BITMAP_LEN,
};

/// What `redis-server --port 27111 --cluster-port 27112 --cluster-announce-hostname
/// myhost.example` sent after `CLUSTER ADDSLOTS 0 1 5 16383` and `CLUSTER MEET`, byte for byte.
const CAPTURED_MEET: &[u8] = include_bytes!("captures/meet-with-hostname.bin");

#[test]
fn decodes_a_meet_captured_from_redis() {
    let message = Message::decode(CAPTURED_MEET).unwrap();
    let h = &message.header;
    assert_eq!(
        h.sender,
        NodeName::parse("95cbe775eba78d290e7f02b49f34a94c66721c18").unwrap()
    );
    assert_eq!((h.port, h.cport, h.pport), (27111, 27112, 0));
    assert_eq!(h.slots.ranges(), vec![(0, 1), (5, 5), (16383, 16383)]);
    assert_eq!(h.flags, NodeFlags::MASTER | NodeFlags::MYSELF);
    assert_eq!(h.replicaof, None);
    assert!(h.ip.is_empty());
    assert_eq!((h.current_epoch, h.config_epoch, h.offset), (0, 0, 0));
    // Four slots of 16384 do not make a cluster that is up.
    assert_eq!(h.state, ClusterState::FAIL);
    assert_eq!(h.mflags, MessageFlags::EXT_DATA);
    assert_eq!(
        message.body,
        Body::Meet(Heartbeat {
            gossip: vec![],
            extensions: vec![Extension::Hostname(b"myhost.example".to_vec())],
        })
    );
    assert_eq!(message.encode(), CAPTURED_MEET);
}

fn name(c: u8) -> NodeName {
    NodeName([c; 40])
}

fn header() -> Header {
    let mut h = Header::new(name(b'a'), 7000, 17000);
    h.current_epoch = 5;
    h.config_epoch = 3;
    h.offset = 123_456;
    h.slots = SlotBitmap::from_ranges(&[(0, 5460)]);
    h.ip = BusIp::new(b"10.0.0.1").unwrap();
    h
}

#[test]
fn every_type_round_trips_with_its_length() {
    let gossip = Gossip {
        name: name(b'b'),
        ping_sent: 1,
        pong_received: 2,
        ip: BusIp::new(b"::1").unwrap(),
        port: 7001,
        cport: 17001,
        flags: NodeFlags::REPLICA | NodeFlags::PFAIL,
        pport: 0,
    };
    let beat = Heartbeat {
        gossip: vec![gossip.clone(), gossip],
        extensions: vec![
            Extension::Hostname(b"host-1234567".to_vec()),
            Extension::Other {
                kind: 3,
                data: vec![7; 40],
            },
        ],
    };
    let publication = Publication {
        channel: b"news".to_vec(),
        message: b"hello".to_vec(),
    };
    let cases = [
        (Body::Ping(beat.clone()), HEADER_LEN + 2 * 104 + 24 + 48),
        (Body::Pong(Heartbeat::default()), HEADER_LEN),
        (Body::Meet(beat), HEADER_LEN + 2 * 104 + 24 + 48),
        (Body::Fail { about: name(b'c') }, HEADER_LEN + 40),
        (Body::Publish(publication.clone()), HEADER_LEN + 8 + 4 + 5),
        (Body::PublishShard(publication), HEADER_LEN + 8 + 4 + 5),
        (Body::FailoverAuthRequest, HEADER_LEN),
        (Body::FailoverAuthAck, HEADER_LEN),
        (Body::MfStart, HEADER_LEN),
        (
            Body::Update {
                config_epoch: 9,
                node: name(b'd'),
                slots: Box::new(SlotBitmap::from_ranges(&[(100, 200)])),
            },
            HEADER_LEN + 8 + 40 + SLOT_BITMAP_LEN,
        ),
        (
            Body::Module {
                module_id: *b"modid123",
                kind: 4,
                payload: b"payload".to_vec(),
            },
            HEADER_LEN + 13 + 7,
        ),
    ];
    for (body, len) in cases {
        let kind = body.message_type();
        let mut message = Message::new(header(), body);
        let bytes = message.encode();
        assert_eq!(bytes.len(), len, "{kind:?}");
        assert_eq!(message.encoded_len(), len, "{kind:?}");
        assert_eq!(frame_len(&bytes), Ok(Some(len)));
        assert_eq!(u16::from_be_bytes([bytes[12], bytes[13]]), kind as u16);
        let decoded = Message::decode(&bytes).unwrap();
        if matches!(&message.body, Body::Ping(b) | Body::Meet(b) if !b.extensions.is_empty()) {
            // The encoder announces the extensions it writes.
            message.header.mflags = message.header.mflags | MessageFlags::EXT_DATA;
        }
        assert_eq!(decoded, message, "{kind:?}");
    }
}

#[test]
fn lengths_that_do_not_fit_the_type_are_refused() {
    let fail = Message::new(header(), Body::Fail { about: name(b'c') }).encode();
    // One byte more than a FAIL needs, with the total length saying so.
    let mut long = fail.clone();
    long.push(0);
    let len = long.len() as u32;
    long[4..8].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        Message::decode(&long),
        Err(DecodeError::BadLength {
            kind: MessageType::Fail,
            expected: HEADER_LEN + 40,
            actual: HEADER_LEN + 41
        })
    );
    // A gossip count the bytes do not hold.
    let mut ping = Message::new(header(), Body::Ping(Heartbeat::default())).encode();
    ping[14..16].copy_from_slice(&1u16.to_be_bytes());
    assert!(matches!(
        Message::decode(&ping),
        Err(DecodeError::BadLength {
            kind: MessageType::Ping,
            ..
        })
    ));
    // Publish lengths that wrap a 32-bit sum.
    let mut publish = Message::new(
        header(),
        Body::Publish(Publication {
            channel: b"c".to_vec(),
            message: b"m".to_vec(),
        }),
    )
    .encode();
    publish[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    publish[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&3u32.to_be_bytes());
    assert!(matches!(
        Message::decode(&publish),
        Err(DecodeError::BadLength { .. })
    ));
    // An extension whose length is not a multiple of 8.
    let mut meet = CAPTURED_MEET.to_vec();
    meet[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&20u32.to_be_bytes());
    assert_eq!(
        Message::decode(&meet),
        Err(DecodeError::BadExtension { length: 20 })
    );
    // Extensions without the flag that announces them are not read, so their bytes are extra.
    let mut meet = CAPTURED_MEET.to_vec();
    meet[2253] = 0;
    assert!(matches!(
        Message::decode(&meet),
        Err(DecodeError::BadLength { .. })
    ));
    // Version, type, signature and total length.
    let mut other = fail.clone();
    other[9] = 2;
    assert_eq!(
        Message::decode(&other),
        Err(DecodeError::UnsupportedVersion(2))
    );
    let mut other = fail.clone();
    other[13] = 11;
    assert_eq!(Message::decode(&other), Err(DecodeError::UnknownType(11)));
    let mut other = fail.clone();
    other[0] = b'X';
    assert_eq!(Message::decode(&other), Err(DecodeError::BadSignature));
    assert_eq!(frame_len(b"RCx"), Err(DecodeError::BadSignature));
    assert_eq!(frame_len(b"RCm"), Ok(None));
    assert_eq!(
        frame_len(b"RCmb\0\0\0\x10"),
        Err(DecodeError::TooShort { declared: 16 })
    );
    assert!(matches!(
        Message::decode(&fail[..fail.len() - 1]),
        Err(DecodeError::LengthMismatch { .. })
    ));
}

fn any_name() -> impl Strategy<Value = NodeName> {
    prop::array::uniform32(any::<u8>()).prop_map(|a| {
        let mut n = [0u8; 40];
        n[..32].copy_from_slice(&a);
        n[32..].copy_from_slice(&a[..8]);
        NodeName(n)
    })
}

fn any_ip() -> impl Strategy<Value = BusIp> {
    vec(1u8..=255, 0..=45).prop_map(|b| BusIp::new(&b).unwrap())
}

fn any_slots() -> impl Strategy<Value = SlotBitmap> {
    vec((0u16..16384, 0u16..300), 0..4).prop_map(|ranges| {
        let ranges: Vec<(u16, u16)> = ranges
            .into_iter()
            .map(|(first, len)| (first, first.saturating_add(len).min(16383)))
            .collect();
        SlotBitmap::from_ranges(&ranges)
    })
}

fn any_header() -> impl Strategy<Value = Header> {
    (
        (any::<u16>(), any::<u16>(), any::<u16>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        (
            any_name(),
            any_slots(),
            prop::option::of(any_name()),
            any_ip(),
        ),
        (any::<u16>(), any::<u8>(), any::<u8>()),
    )
        .prop_map(
            |(
                (port, pport, cport),
                (current_epoch, config_epoch, offset),
                (sender, slots, replicaof, ip),
                (flags, state, mflags),
            )| {
                Header {
                    port,
                    pport,
                    cport,
                    current_epoch,
                    config_epoch,
                    offset,
                    sender,
                    slots,
                    replicaof: replicaof.filter(|n| !n.is_null()),
                    ip,
                    flags: NodeFlags(flags),
                    state: ClusterState(state),
                    mflags: MessageFlags(mflags),
                }
            },
        )
}

fn any_gossip() -> impl Strategy<Value = Gossip> {
    (
        any_name(),
        any::<(u32, u32)>(),
        any_ip(),
        any::<(u16, u16, u16, u16)>(),
    )
        .prop_map(
            |(name, (ping_sent, pong_received), ip, (port, cport, flags, pport))| Gossip {
                name,
                ping_sent,
                pong_received,
                ip,
                port,
                cport,
                flags: NodeFlags(flags),
                pport,
            },
        )
}

fn any_extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        vec(1u8..=255, 0..40).prop_map(Extension::Hostname),
        (1u16.., vec(vec(any::<u8>(), 8), 0..4)).prop_map(|(kind, words)| Extension::Other {
            kind,
            data: words.concat()
        }),
    ]
}

fn any_heartbeat() -> impl Strategy<Value = Heartbeat> {
    (vec(any_gossip(), 0..5), vec(any_extension(), 0..3))
        .prop_map(|(gossip, extensions)| Heartbeat { gossip, extensions })
}

fn any_publication() -> impl Strategy<Value = Publication> {
    (vec(any::<u8>(), 0..50), vec(any::<u8>(), 0..200))
        .prop_map(|(channel, message)| Publication { channel, message })
}

fn any_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        any_heartbeat().prop_map(Body::Ping),
        any_heartbeat().prop_map(Body::Pong),
        any_heartbeat().prop_map(Body::Meet),
        any_name().prop_map(|about| Body::Fail { about }),
        any_publication().prop_map(Body::Publish),
        any_publication().prop_map(Body::PublishShard),
        Just(Body::FailoverAuthRequest),
        Just(Body::FailoverAuthAck),
        Just(Body::MfStart),
        (any::<u64>(), any_name(), any_slots()).prop_map(|(config_epoch, node, slots)| {
            Body::Update {
                config_epoch,
                node,
                slots: Box::new(slots),
            }
        }),
        (any::<[u8; 8]>(), any::<u8>(), vec(any::<u8>(), 0..100)).prop_map(
            |(module_id, kind, payload)| Body::Module {
                module_id,
                kind,
                payload
            }
        ),
    ]
}

fn any_message() -> impl Strategy<Value = Message> {
    (any_header(), any_body()).prop_map(|(mut header, body)| {
        // The encoder sets EXT_DATA for extensions; set it up front so equality is exact.
        if matches!(&body, Body::Ping(b) | Body::Pong(b) | Body::Meet(b) if !b.extensions.is_empty())
        {
            header.mflags = header.mflags | MessageFlags::EXT_DATA;
        }
        Message::new(header, body)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trips(message in any_message()) {
        let bytes = message.encode();
        prop_assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
        prop_assert_eq!(Message::decode(&bytes), Ok(message));
    }

    #[test]
    fn every_truncation_is_refused(message in any_message(), cut in any::<prop::sample::Index>()) {
        let bytes = message.encode();
        let end = cut.index(bytes.len());
        prop_assert!(Message::decode(&bytes[..end]).is_err());
        // With its length field rewritten to match, the shorter message is refused too: every
        // body's length follows from its type and the counts and lengths it declares.
        if end >= HEADER_LEN {
            let mut short = bytes[..end].to_vec();
            short[4..8].copy_from_slice(&(end as u32).to_be_bytes());
            prop_assert!(Message::decode(&short).is_err());
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        message in any_message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = message.encode();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(decoded) = Message::decode(&bytes) {
            // Whatever decodes re-encodes to a message that decodes the same.
            prop_assert_eq!(Message::decode(&decoded.encode()), Ok(decoded));
        }
    }

    #[test]
    fn random_bytes_never_panic(mut bytes in vec(any::<u8>(), 0..3000), sign in any::<bool>()) {
        if sign && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(b"RCmb");
            let len = bytes.len() as u32;
            bytes[4..8].copy_from_slice(&len.to_be_bytes());
        }
        let _ = frame_len(&bytes);
        let _ = Message::decode(&bytes);
    }
}
