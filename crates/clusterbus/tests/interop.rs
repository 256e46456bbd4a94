//! The codec against real Redis 7.0.15 cluster nodes (`redis-server --cluster-enabled yes`):
//! made-up nodes, built from this crate's encoder and listening on bus ports of their own,
//! join a real node's cluster and talk to it; what the real node sends them is decoded and
//! checked against what the real node says about itself, and what they send is checked
//! through the real node's CLUSTER NODES, pub/sub and votes. Skipped (with a `SKIPPED:` line)
//! when redis-server is not installed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_lite_clusterbus::{
    frame_len, Body, BusIp, Extension, Gossip, Header, Heartbeat, Message, MessageFlags,
    MessageType, NodeFlags, NodeName, Publication, SlotBitmap,
};
use redis_lite_testkit::wait::wait_until;
use redis_lite_testkit::{free_port, Launch, Raw, Server};

const WAIT: Duration = Duration::from_secs(20);

/// Reads one whole message from a bus connection.
fn read_message(stream: &mut TcpStream) -> std::io::Result<Message> {
    let mut buf = vec![0; 8];
    stream.read_exact(&mut buf)?;
    let len = frame_len(&buf)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
        .expect("8 bytes frame a length");
    buf.resize(len, 0);
    stream.read_exact(&mut buf[8..])?;
    Message::decode(&buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A node of this test's making: a bus listener that answers every PING and MEET with a
/// PONG carrying its header and extensions (as a real node answers on the link the real node
/// opened to it) and records every message it receives.
struct FakeNode {
    header: Arc<Mutex<Header>>,
    extensions: Arc<Mutex<Vec<Extension>>>,
    received: Arc<Mutex<Vec<Message>>>,
}

impl FakeNode {
    /// A master named `name` (40 copies of that hex digit) with `slots` at `config_epoch`,
    /// listening on a free bus port; its client port is a free port nothing listens on.
    fn start(name: char, slots: &[(u16, u16)], config_epoch: u64) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let cport = listener.local_addr().unwrap().port();
        let name = NodeName::parse(&name.to_string().repeat(40)).unwrap();
        let mut header = Header::new(name, free_port(), cport);
        header.slots = SlotBitmap::from_ranges(slots);
        header.config_epoch = config_epoch;
        header.current_epoch = config_epoch;
        let node = FakeNode {
            header: Arc::new(Mutex::new(header)),
            extensions: Arc::new(Mutex::new(Vec::new())),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let (header, extensions, received) = (
            node.header.clone(),
            node.extensions.clone(),
            node.received.clone(),
        );
        // Lives until the test process ends; each link's thread ends when the peer closes.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (header, extensions, received) =
                    (header.clone(), extensions.clone(), received.clone());
                std::thread::spawn(move || {
                    while let Ok(message) = read_message(&mut stream) {
                        if matches!(message.body, Body::Ping(_) | Body::Meet(_)) {
                            let me = header.lock().unwrap().clone();
                            let pong = Message::new(
                                me,
                                Body::Pong(Heartbeat {
                                    gossip: vec![],
                                    extensions: extensions.lock().unwrap().clone(),
                                }),
                            );
                            if stream.write_all(&pong.encode()).is_err() {
                                return;
                            }
                        }
                        received.lock().unwrap().push(message);
                    }
                });
            }
        });
        node
    }

    fn header(&self) -> Header {
        self.header.lock().unwrap().clone()
    }

    fn name(&self) -> NodeName {
        self.header().sender
    }

    /// The first message received that `pick` accepts.
    fn find(&self, pick: impl Fn(&Message) -> bool) -> Option<Message> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .find(|m| pick(m))
            .cloned()
    }

    /// Waits for a message `pick` accepts.
    fn wait_for(&self, what: &str, pick: impl Fn(&Message) -> bool) -> Message {
        wait_until(what, WAIT, || self.find(&pick).is_some());
        self.find(pick).unwrap()
    }

    /// What a real node gossips about this one.
    fn as_gossip(&self) -> Gossip {
        let h = self.header();
        Gossip {
            name: h.sender,
            ping_sent: 0,
            pong_received: 0,
            ip: BusIp::new(b"127.0.0.1").unwrap(),
            port: h.port,
            cport: h.cport,
            flags: h.flags,
            pport: 0,
        }
    }

    /// A message from this node.
    fn message(&self, body: Body) -> Message {
        Message::new(self.header(), body)
    }

    /// A PING, PONG or MEET from this node, with its extensions and no gossip.
    fn heartbeat(&self, kind: fn(Heartbeat) -> Body) -> Message {
        let extensions = self.extensions.lock().unwrap().clone();
        self.message(kind(Heartbeat {
            gossip: vec![],
            extensions,
        }))
    }
}

/// A link this test opens to the real node's bus port, as a peer does to send it messages.
fn dial(node: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", node.cluster_port.unwrap())).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

fn send(link: &mut TcpStream, message: &Message) {
    link.write_all(&message.encode()).unwrap();
}

/// The fields of the real node's CLUSTER NODES line about `name`, if it lists it.
fn nodes_line(raw: &mut Raw, name: NodeName) -> Option<Vec<String>> {
    let reply = raw.cmd_text(&["CLUSTER", "NODES"]);
    let name = name.to_string();
    reply
        .lines()
        .find(|line| line.starts_with(&name))
        .map(|line| line.split(' ').map(str::to_string).collect())
}

/// Whether the CLUSTER NODES line about `name` satisfies `check`.
fn line_matches(raw: &mut Raw, name: NodeName, check: impl Fn(&[String]) -> bool) -> bool {
    nodes_line(raw, name).is_some_and(|fields| check(&fields))
}

fn flags_of(fields: &[String]) -> Vec<&str> {
    fields[2].split(',').collect()
}

/// A real Redis cluster node serving `slots`, or None (test skipped) without redis-server.
fn real_node(slots: (u16, u16)) -> Option<(Server, Raw, NodeName)> {
    let server = Launch::redis()
        .cluster_node()
        .args(&["--save", "", "--appendonly", "no"])
        .start_if_available()?;
    let mut raw = server.raw();
    let (first, last) = (slots.0.to_string(), slots.1.to_string());
    assert_eq!(
        raw.cmd_text(&["CLUSTER", "ADDSLOTSRANGE", &first, &last]),
        "+OK\r\n"
    );
    let id = String::from_utf8(raw.ok(&[b"CLUSTER", b"MYID"]).bytes()).unwrap();
    Some((server, raw, NodeName::parse(&id).unwrap()))
}

/// The real node MEETs a made-up node: the MEET decodes to the real node's identity; the
/// PONG built here completes the handshake, and the made-up node's ports and slots are taken.
#[test]
fn real_node_meets_a_made_up_node() {
    let Some((real, mut raw, real_name)) = real_node((0, 1004)) else {
        return;
    };
    let b = FakeNode::start('b', &[(1005, 1999)], 1);
    let (b_port, b_cport) = (b.header().port, b.header().cport);
    assert_eq!(
        raw.cmd_text(&[
            "CLUSTER",
            "MEET",
            "127.0.0.1",
            &b_port.to_string(),
            &b_cport.to_string()
        ]),
        "+OK\r\n"
    );
    let meet = b.wait_for("the real node's MEET", |m| {
        m.message_type() == MessageType::Meet
    });
    let h = &meet.header;
    assert_eq!(h.sender, real_name);
    assert_eq!(h.port, real.port);
    assert_eq!(h.cport, real.cluster_port.unwrap());
    assert_eq!(h.pport, 0);
    assert_eq!(h.flags, NodeFlags::MASTER | NodeFlags::MYSELF);
    assert_eq!(h.slots.ranges(), vec![(0, 1004)]);
    assert_eq!(h.replicaof, None);
    // No hostname announced: no extensions, and 7.0 does not set EXT_DATA then.
    assert_eq!(meet.body, Body::Meet(Heartbeat::default()));
    assert_eq!(h.mflags, MessageFlags::default());

    wait_until("the handshake to finish", WAIT, || {
        line_matches(&mut raw, b.name(), |f| {
            f[1] == format!("127.0.0.1:{b_port}@{b_cport}")
                && flags_of(f) == ["master"]
                && f[6] == "1"
                && f[7] == "connected"
                && f[8..] == ["1005-1999"]
        })
    });
}

/// After the handshake, messages built here on a link of their own: a PING whose gossip
/// makes the real node add a third node (and connect to it), FAIL, UPDATE, PUBLISH and
/// PUBLISHSHARD, a FAILOVER_AUTH_REQUEST the real node votes for; and the real node's own
/// PUBLISH and gossip decoded.
#[test]
fn real_node_acts_on_made_up_messages() {
    let Some((real, mut raw, real_name)) = real_node((0, 1004)) else {
        return;
    };
    let b = FakeNode::start('b', &[(1005, 1999)], 1);
    let c = FakeNode::start('c', &[(2001, 2998)], 1);
    let (b_port, b_cport) = (b.header().port.to_string(), b.header().cport.to_string());
    raw.cmd_text(&["CLUSTER", "MEET", "127.0.0.1", &b_port, &b_cport]);
    wait_until("b to join", WAIT, || {
        line_matches(&mut raw, b.name(), |f| f[7] == "connected" && f.len() > 8)
    });

    // A PING from b on a link b opens, gossiping about c: the real node answers with a PONG
    // on that link and adds c under c's own name, then connects to c.
    let mut link = dial(&real);
    let ping = b.message(Body::Ping(Heartbeat {
        gossip: vec![c.as_gossip()],
        extensions: vec![],
    }));
    send(&mut link, &ping);
    let pong = read_message(&mut link).unwrap();
    assert_eq!(pong.message_type(), MessageType::Pong);
    assert_eq!(pong.header.sender, real_name);
    let c_ping = c.wait_for("the real node to ping c", |m| {
        m.message_type() == MessageType::Ping && m.header.sender == real_name
    });
    assert_eq!(c_ping.header.slots.ranges(), vec![(0, 1004)]);
    let c_addr = format!("127.0.0.1:{}@{}", c.header().port, c.header().cport);
    wait_until("c to be known, connected, with its slots", WAIT, || {
        line_matches(&mut raw, c.name(), |f| {
            f[1] == c_addr
                && flags_of(f) == ["master"]
                && f[7] == "connected"
                && f[8..] == ["2001-2998"]
        })
    });

    // The real node now gossips to b about c.
    let gossip = b.wait_for("gossip about c", |m| match &m.body {
        Body::Ping(beat) => beat.gossip.iter().any(|g| g.name == c.name()),
        _ => false,
    });
    let Body::Ping(beat) = gossip.body else {
        unreachable!()
    };
    let about_c = beat.gossip.iter().find(|g| g.name == c.name()).unwrap();
    assert_eq!(about_c.ip.as_bytes(), b"127.0.0.1");
    assert_eq!(
        (about_c.port, about_c.cport),
        (c.header().port, c.header().cport)
    );
    assert_eq!(about_c.flags, NodeFlags::MASTER);

    // FAIL about c. c serves slots, so its answers do not clear the flag before twice the
    // node timeout.
    send(&mut link, &b.message(Body::Fail { about: c.name() }));
    wait_until("c to be marked failed", WAIT, || {
        line_matches(&mut raw, c.name(), |f| flags_of(f) == ["master", "fail"])
    });

    // UPDATE: b now serves 0-102 too, at a config epoch above the real node's.
    let update = b.message(Body::Update {
        config_epoch: 2,
        node: b.name(),
        slots: Box::new(SlotBitmap::from_ranges(&[(0, 102), (1005, 1999)])),
    });
    send(&mut link, &update);
    wait_until("slots 0-102 to move to b", WAIT, || {
        line_matches(&mut raw, b.name(), |f| {
            f[6] == "2" && f[8..] == ["0-102", "1005-1999"]
        }) && line_matches(&mut raw, real_name, |f| f[8..] == ["103-1004"])
    });
    {
        let mut me = b.header.lock().unwrap();
        me.config_epoch = 2;
        me.slots = SlotBitmap::from_ranges(&[(0, 102), (1005, 1999)]);
    }

    // PUBLISH reaches a subscriber of the real node, byte for byte.
    let mut subscriber = real.raw();
    subscriber.cmd(&["SUBSCRIBE", "news"]);
    let publication = Publication {
        channel: b"news".to_vec(),
        message: b"from the bus".to_vec(),
    };
    send(&mut link, &b.message(Body::Publish(publication)));
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$12\r\nfrom the bus\r\n"
    );

    // PUBLISHSHARD reaches a shard subscriber, on a channel of a slot the real node serves.
    let channel = (0..)
        .map(|i| format!("shard{i}"))
        .find(|ch| {
            let slot = Raw::cmd_text(&mut raw, &["CLUSTER", "KEYSLOT", ch]);
            let slot: u16 = slot.trim_start_matches(':').trim().parse().unwrap();
            (103..=1004).contains(&slot)
        })
        .unwrap();
    let mut shard_subscriber = real.raw();
    shard_subscriber.cmd(&["SSUBSCRIBE", &channel]);
    let publication = Publication {
        channel: channel.as_bytes().to_vec(),
        message: b"sharded".to_vec(),
    };
    send(&mut link, &b.message(Body::PublishShard(publication)));
    assert_eq!(
        shard_subscriber.read_reply(),
        format!(
            "*3\r\n$8\r\nsmessage\r\n${}\r\n{channel}\r\n$7\r\nsharded\r\n",
            channel.len()
        )
        .as_bytes()
    );

    // The real node's PUBLISH, decoded on b's listener.
    raw.cmd(&["PUBLISH", "outbound", "to the fake nodes"]);
    let published = b.wait_for("the real node's PUBLISH", |m| {
        m.message_type() == MessageType::Publish
    });
    assert_eq!(published.header.sender, real_name);
    assert_eq!(
        published.body,
        Body::Publish(Publication {
            channel: b"outbound".to_vec(),
            message: b"to the fake nodes".to_vec(),
        })
    );

    // d, a replica of the failed c, asks for a vote: the real node, a master with slots,
    // grants it with a FAILOVER_AUTH_ACK on its link to d.
    let d = FakeNode::start('d', &[(2001, 2998)], 1);
    {
        let mut me = d.header.lock().unwrap();
        me.flags = NodeFlags::REPLICA;
        me.replicaof = Some(c.name());
    }
    send(
        &mut link,
        &b.message(Body::Ping(Heartbeat {
            gossip: vec![d.as_gossip()],
            extensions: vec![],
        })),
    );
    read_message(&mut link).unwrap();
    let c_name = c.name().to_string();
    wait_until("d to be known as c's replica", WAIT, || {
        line_matches(&mut raw, d.name(), |f| {
            flags_of(f) == ["slave"] && f[3] == c_name && f[7] == "connected"
        })
    });
    let mut request = d.message(Body::FailoverAuthRequest);
    request.header.current_epoch = 10;
    let mut d_link = dial(&real);
    send(&mut d_link, &request);
    let ack = d.wait_for("the real node's vote", |m| {
        m.message_type() == MessageType::FailoverAuthAck
    });
    assert_eq!(ack.header.sender, real_name);
    assert_eq!(ack.header.current_epoch, 10);

    // The real node counted each message under the name MessageType gives it.
    let info = raw.cmd_text(&["CLUSTER", "INFO"]);
    let counted = |kind: MessageType, direction: &str| {
        let field = format!("cluster_stats_messages_{}_{direction}:", kind.name());
        info.lines().any(|line| line.starts_with(&field))
    };
    for kind in [
        MessageType::Ping,
        MessageType::Pong,
        MessageType::Fail,
        MessageType::Publish,
        MessageType::PublishShard,
        MessageType::Update,
        MessageType::FailoverAuthRequest,
    ] {
        assert!(counted(kind, "received"), "{kind:?} in {info}");
    }
    for kind in [MessageType::Meet, MessageType::FailoverAuthAck] {
        assert!(counted(kind, "sent"), "{kind:?} in {info}");
    }
}

/// The other direction: a made-up node MEETs the real node on a link of its own, announcing a
/// hostname and an extension 7.0 does not know (a later version's shard id); the real node
/// completes the handshake with it, takes the hostname, follows a change of its advertised
/// port, takes it as its replica, and answers its MFSTART by pausing and saying so.
#[test]
fn made_up_node_meets_the_real_node() {
    let Some((real, mut raw, real_name)) = real_node((0, 1004)) else {
        return;
    };
    let e = FakeNode::start('e', &[], 0);
    *e.extensions.lock().unwrap() = vec![
        Extension::Hostname(b"e.example".to_vec()),
        Extension::Other {
            kind: 3,
            data: vec![b'5'; 40],
        },
    ];
    let mut link = dial(&real);
    send(&mut link, &e.heartbeat(Body::Meet));
    let pong = read_message(&mut link).unwrap();
    assert_eq!(pong.message_type(), MessageType::Pong);
    assert_eq!(pong.header.sender, real_name);
    assert_eq!(pong.header.slots.ranges(), vec![(0, 1004)]);

    // The real node connects to e's bus port, pings it under a handshake name, and takes e's
    // name and hostname from e's PONG.
    let (port, cport) = (e.header().port, e.header().cport);
    wait_until("e to join with its hostname", WAIT, || {
        line_matches(&mut raw, e.name(), |f| {
            f[1] == format!("127.0.0.1:{port}@{cport},e.example")
                && flags_of(f) == ["master"]
                && f[7] == "connected"
        })
    });

    // A PING on e's own link with another client port: the real node updates e's address.
    let new_port = free_port();
    e.header.lock().unwrap().port = new_port;
    send(&mut link, &e.heartbeat(Body::Ping));
    wait_until("e's new port", WAIT, || {
        line_matches(&mut raw, e.name(), |f| {
            f[1] == format!("127.0.0.1:{new_port}@{cport},e.example")
        })
    });

    // e becomes a replica of the real node, then asks it to start a manual failover: the real
    // node pauses its clients and pings e at once with the PAUSED flag and its offset.
    {
        let mut me = e.header.lock().unwrap();
        me.flags = NodeFlags::REPLICA;
        me.replicaof = Some(real_name);
        me.slots = SlotBitmap::from_ranges(&[(0, 1004)]);
    }
    send(&mut link, &e.heartbeat(Body::Ping));
    let real_id = real_name.to_string();
    wait_until("e to be the real node's replica", WAIT, || {
        line_matches(&mut raw, e.name(), |f| {
            flags_of(f) == ["slave"] && f[3] == real_id
        })
    });
    send(&mut link, &e.message(Body::MfStart));
    let paused = loop {
        let message = read_message(&mut link).unwrap();
        if message.message_type() == MessageType::Ping {
            break message;
        }
    };
    assert_eq!(paused.header.sender, real_name);
    assert!(paused.header.mflags.contains(MessageFlags::PAUSED));
}
