//! COMMAND DOCS and COMMAND INFO of every command real Redis lists, compared with real Redis's
//! byte for byte in RESP2 and RESP3. The one order allowed to differ is a container's
//! subcommands: Redis keeps them in a hash table seeded at random per process, so two Redis
//! processes disagree on it too.
use redis_lite_testkit as testkit;

use testkit::{Raw, Server};

/// A reply as a tree that can be reordered: the frame's header line (with the payload, for a
/// string) and its elements (a map's keys and values alternate).
struct Node {
    head: Vec<u8>,
    items: Vec<Node>,
}

impl Node {
    fn parse(buf: &[u8]) -> Node {
        let (node, used) = Node::parse_at(buf);
        assert_eq!(used, buf.len(), "bytes after the reply");
        node
    }

    fn parse_at(buf: &[u8]) -> (Node, usize) {
        let line_end = buf.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let count = || -> usize {
            let text = std::str::from_utf8(&buf[1..line_end - 2]).unwrap();
            text.parse::<i64>().unwrap().max(0) as usize
        };
        let (elements, head_len) = match buf[0] {
            b'$' | b'=' | b'!' if buf[1] != b'-' => (0, line_end + count() + 2),
            b'*' | b'~' | b'>' => (count(), line_end),
            b'%' => (2 * count(), line_end),
            _ => (0, line_end),
        };
        let mut node = Node {
            head: buf[..head_len].to_vec(),
            items: Vec::new(),
        };
        let mut pos = head_len;
        for _ in 0..elements {
            let (item, used) = Node::parse_at(&buf[pos..]);
            node.items.push(item);
            pos += used;
        }
        (node, pos)
    }

    fn bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        for item in &self.items {
            item.bytes(out);
        }
    }

    /// A bulk string's payload; empty for any other frame.
    fn text(&self) -> &[u8] {
        let start = self.head.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        self.head
            .get(start..self.head.len() - 2)
            .unwrap_or_default()
    }

    /// Sorts the elements (or, for a map in RESP3 or a flat key-value array in RESP2, the
    /// pairs) by their first element.
    fn sort(&mut self, pairs: bool) {
        let size = if pairs { 2 } else { 1 };
        let mut groups: Vec<(Vec<u8>, Vec<Node>)> = Vec::new();
        let mut items = std::mem::take(&mut self.items).into_iter();
        while let Some(first) = items.next() {
            let mut group = vec![first];
            group.extend(items.by_ref().take(size - 1));
            let mut key = Vec::new();
            group[0].bytes(&mut key);
            groups.push((key, group));
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        self.items = groups.into_iter().flat_map(|(_, g)| g).collect();
    }
}

/// COMMAND DOCS of one command, its subcommands sorted by name.
fn docs(raw: &mut Raw, name: &str) -> Vec<u8> {
    let mut reply = Node::parse(&raw.cmd(&["COMMAND", "DOCS", name]));
    if let Some(doc) = reply.items.get_mut(1) {
        let at = doc.items.iter().position(|k| k.text() == b"subcommands");
        if let Some(at) = at {
            doc.items[at + 1].sort(true);
        }
    }
    let mut out = Vec::new();
    reply.bytes(&mut out);
    out
}

/// COMMAND INFO of one command, its subcommands sorted.
fn info(raw: &mut Raw, name: &str) -> Vec<u8> {
    let mut reply = Node::parse(&raw.cmd(&["COMMAND", "INFO", name]));
    if let Some(subcommands) = reply.items.get_mut(0).and_then(|i| i.items.get_mut(9)) {
        if !subcommands.items.is_empty() {
            subcommands.sort(false);
        }
    }
    let mut out = Vec::new();
    reply.bytes(&mut out);
    out
}

fn names(raw: &mut Raw) -> Vec<String> {
    let reply = testkit::Reply::parse(&raw.cmd(&["COMMAND", "LIST"]));
    let mut names: Vec<String> = reply
        .array()
        .into_iter()
        .map(|n| String::from_utf8(n).unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn command_docs_and_info_equal_redis_for_every_command() {
    // Says the test is skipped when redis-server is not installed.
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let (mut expected, mut actual) = (redis.raw(), lite.raw());
    let redis_names = names(&mut expected);
    let lite_names = names(&mut actual);
    let missing: Vec<&String> = redis_names
        .iter()
        .filter(|n| !lite_names.contains(n))
        .collect();
    assert!(missing.is_empty(), "commands redis-lite lacks: {missing:?}");
    let extra: Vec<&String> = lite_names
        .iter()
        .filter(|n| !redis_names.contains(n))
        .collect();
    assert!(extra.is_empty(), "commands only redis-lite has: {extra:?}");

    let mut differences = Vec::new();
    for resp3 in [false, true] {
        if resp3 {
            expected.cmd(&["HELLO", "3"]);
            actual.cmd(&["HELLO", "3"]);
        }
        for name in &redis_names {
            for (what, reply) in [
                ("DOCS", docs as fn(&mut Raw, &str) -> Vec<u8>),
                ("INFO", info),
            ] {
                let (want, got) = (reply(&mut expected, name), reply(&mut actual, name));
                if want != got {
                    differences.push(format!(
                        "COMMAND {what} {name} (RESP{})\n    redis: {:?}\n    lite:  {:?}",
                        if resp3 { 3 } else { 2 },
                        String::from_utf8_lossy(&want),
                        String::from_utf8_lossy(&got)
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} replies differ from Redis's:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
