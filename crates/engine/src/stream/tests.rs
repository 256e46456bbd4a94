use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

type Model = BTreeMap<StreamId, Vec<Vec<u8>>>;

fn entries(s: &Stream, start: StreamId, end: StreamId, rev: bool) -> Vec<(StreamId, Vec<Vec<u8>>)> {
    s.range(start, end, rev)
        .map(|e| {
            let flat = e
                .fields()
                .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                .collect();
            (e.id, flat)
        })
        .collect()
}

fn model_range(
    m: &Model,
    start: StreamId,
    end: StreamId,
    rev: bool,
) -> Vec<(StreamId, Vec<Vec<u8>>)> {
    if start > end {
        return Vec::new();
    }
    let mut out: Vec<_> = m.range(start..=end).map(|(k, v)| (*k, v.clone())).collect();
    if rev {
        out.reverse();
    }
    out
}

fn add(s: &mut Stream, m: &mut Model, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
    s.append(id, fields, limits);
    m.insert(id, fields.iter().map(|f| f.to_vec()).collect());
}

#[test]
fn ids_order_and_text() {
    assert!(StreamId::new(1, 5) < StreamId::new(2, 0));
    assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
    assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
    assert_eq!(StreamId::MAX.next(), None);
    assert_eq!(StreamId::MIN.prev(), None);
    assert_eq!(
        StreamId::new(1526919030474, 55).to_text(),
        b"1526919030474-55"
    );
    let id = StreamId::new(7, 9);
    assert_eq!(StreamId::from_be_bytes(&id.to_be_bytes()), Some(id));
}

#[test]
fn same_fields_entries_share_the_master_fields() {
    let mut s = Stream::new();
    let limits = NodeLimits::default();
    s.append(StreamId::new(1, 0), &[b"f", b"v1"], limits);
    let one = s.nodes.values().next().unwrap().data.len();
    s.append(StreamId::new(1, 1), &[b"f", b"v2"], limits);
    let two = s.nodes.values().next().unwrap().data.len();
    // flags, ms-diff, seq-diff, "v2", lp-count: five small elements.
    assert_eq!(two - one, 2 + 2 + 2 + 4 + 2);
    s.append(StreamId::new(1, 2), &[b"g", b"12", b"h", b"x"], limits);
    let got = entries(&s, StreamId::MIN, StreamId::MAX, false);
    assert_eq!(got[1].1, vec![b"f".to_vec(), b"v2".to_vec()]);
    assert_eq!(
        got[2].1,
        vec![b"g".to_vec(), b"12".to_vec(), b"h".to_vec(), b"x".to_vec()]
    );
}

#[test]
fn nodes_split_at_the_entry_limit_and_byte_limit() {
    let mut s = Stream::new();
    let limits = NodeLimits {
        max_bytes: 0,
        max_entries: 3,
    };
    for i in 0..10 {
        s.append(StreamId::new(i, 0), &[b"a", b"b"], limits);
    }
    assert_eq!(s.nodes.len(), 4);
    let mut s = Stream::new();
    let limits = NodeLimits {
        max_bytes: 100,
        max_entries: 0,
    };
    for i in 0..10 {
        s.append(StreamId::new(i, 0), &[b"a", &[b'x'; 30]], limits);
    }
    assert!(s.nodes.len() > 2);
    assert!(s.nodes.values().all(|n| n.bytes() < 100 + 50));
}

#[test]
fn delete_updates_counts_first_id_and_drops_empty_nodes() {
    let mut s = Stream::new();
    let limits = NodeLimits {
        max_bytes: 0,
        max_entries: 2,
    };
    for i in 1..=4 {
        s.append(StreamId::new(i, 0), &[b"a", b"b"], limits);
    }
    assert!(s.delete(StreamId::new(1, 0)));
    assert!(!s.delete(StreamId::new(1, 0)));
    assert_eq!(s.first_id(), StreamId::new(2, 0));
    assert_eq!(s.max_deleted_id(), StreamId::new(1, 0));
    assert_eq!(s.nodes.len(), 2);
    assert!(s.delete(StreamId::new(2, 0)));
    assert_eq!(s.nodes.len(), 1);
    assert!(s.delete(StreamId::new(4, 0)));
    assert!(s.delete(StreamId::new(3, 0)));
    assert_eq!(s.len(), 0);
    assert_eq!(s.first_id(), StreamId::MIN);
    assert_eq!(s.last_id(), StreamId::new(4, 0));
    assert_eq!(s.max_deleted_id(), StreamId::new(4, 0));
    assert_eq!(s.entries_added(), 4);
}

#[test]
fn approximate_trim_removes_whole_nodes_only() {
    let mut s = Stream::new();
    let limits = NodeLimits {
        max_bytes: 0,
        max_entries: 10,
    };
    for i in 0..95 {
        s.append(StreamId::new(i, 0), &[b"a", b"b"], limits);
    }
    assert_eq!(s.trim(TrimTo::MaxLen(50), true, 0), 40);
    assert_eq!(s.len(), 55);
    assert_eq!(s.first_id(), StreamId::new(40, 0));
    assert_eq!(s.trim(TrimTo::MaxLen(50), false, 0), 5);
    assert_eq!(s.len(), 50);
    assert_eq!(s.first_id(), StreamId::new(45, 0));
    // A limit that a whole node would pass stops before it.
    assert_eq!(s.trim(TrimTo::MaxLen(0), true, 12), 5);
    assert_eq!(s.trim(TrimTo::MinId(StreamId::new(72, 0)), false, 0), 22);
    assert_eq!(s.first_id(), StreamId::new(72, 0));
}

#[test]
fn nodes_round_trip_through_listpacks() {
    let mut s = Stream::new();
    let limits = NodeLimits {
        max_bytes: 0,
        max_entries: 4,
    };
    for i in 0..11u64 {
        let v = i.to_string();
        s.append(
            StreamId::new(i, i),
            &[b"k", v.as_bytes(), b"z", b"-5000"],
            limits,
        );
    }
    s.delete(StreamId::new(3, 3));
    let mut copy = Stream::new();
    for (master, lp) in s.nodes() {
        crate::listpack::decode(&lp).expect("a valid listpack");
        copy.push_node(master, &lp).unwrap();
    }
    copy.restore_metadata(
        s.len(),
        s.last_id(),
        s.first_id(),
        s.max_deleted_id(),
        s.entries_added(),
    )
    .unwrap();
    assert!(copy == s);
    // Out of order, or a corrupted node, is refused.
    let nodes: Vec<_> = s.nodes().collect();
    let mut bad = Stream::new();
    bad.push_node(nodes[1].0, &nodes[1].1).unwrap();
    assert!(bad.push_node(nodes[0].0, &nodes[0].1).is_err());
    let mut corrupt = nodes[0].1.clone();
    // The first entry's flags (after the master entry) become 9.
    let flags_at = 6 + s.nodes.values().next().unwrap().first_entry_at();
    corrupt[flags_at] = 9;
    assert!(Stream::new().push_node(nodes[0].0, &corrupt).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, u8, bool),
    Delete(u8),
    Trim(u8, bool, u8),
    TrimMin(u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u8..3, any::<bool>()).prop_map(|(ms, fields, same)| Op::Add(ms, fields, same)),
        2 => any::<u8>().prop_map(Op::Delete),
        1 => (0u8..40, any::<bool>(), 0u8..20).prop_map(|(n, a, l)| Op::Trim(n, a, l)),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(n, a)| Op::TrimMin(n, a)),
    ]
}

proptest! {
    #[test]
    fn behaves_like_an_ordered_map(ops in proptest::collection::vec(op(), 1..120),
                                   max_entries in 0usize..6, max_bytes in prop_oneof![Just(0usize), 40usize..200]) {
        let limits = NodeLimits { max_bytes, max_entries };
        let mut s = Stream::new();
        let mut m = Model::new();
        let mut clock = 0u64;
        for op in ops {
            match op {
                Op::Add(step, nfields, same) => {
                    clock += step as u64;
                    let id = match s.last_id() {
                        last if clock > last.ms => StreamId::new(clock, 0),
                        last => last.next().unwrap(),
                    };
                    let v = clock.to_string();
                    let fields: Vec<&[u8]> = match (nfields, same) {
                        (0, _) => vec![b"f", v.as_bytes()],
                        (_, true) => vec![b"f", b"x"],
                        (1, false) => vec![b"g", b"", b"-7", v.as_bytes()],
                        _ => vec![b"f", b"1", b"g", b"2", b"h", b"a longer value, past sixty-three bytes .............................."],
                    };
                    add(&mut s, &mut m, id, &fields, limits);
                }
                Op::Delete(n) => {
                    let target = m.keys().nth(n as usize % (m.len() + 1)).copied();
                    if let Some(id) = target {
                        prop_assert!(s.delete(id));
                        m.remove(&id);
                    }
                    prop_assert!(!s.delete(StreamId::new(u64::MAX, 0)));
                }
                Op::Trim(n, approx, limit) => {
                    let before = s.len();
                    let removed = s.trim(TrimTo::MaxLen(n as u64), approx, limit as u64);
                    prop_assert_eq!(before - removed, s.len());
                    if !approx && limit == 0 {
                        prop_assert_eq!(s.len(), before.min(n as u64));
                    }
                    for _ in 0..removed {
                        let first = *m.keys().next().unwrap();
                        m.remove(&first);
                    }
                }
                Op::TrimMin(n, approx) => {
                    let min = StreamId::new(n as u64 / 4, 0);
                    let removed = s.trim(TrimTo::MinId(min), approx, 0);
                    let below: Vec<_> = m.range(..min).map(|(k, _)| *k).collect();
                    if !approx {
                        prop_assert_eq!(removed as usize, below.len());
                    }
                    for id in below.into_iter().take(removed as usize) {
                        m.remove(&id);
                    }
                }
            }
            prop_assert_eq!(s.len() as usize, m.len());
            prop_assert_eq!(s.first_id(), m.keys().next().copied().unwrap_or(StreamId::MIN));
            prop_assert_eq!(s.edge_id(true), m.keys().next_back().copied());
        }
        let keys: Vec<StreamId> = m.keys().copied().collect();
        let probe = |i: usize| keys.get(i).copied().unwrap_or(StreamId::new(3, 1));
        for (a, b) in [(0, keys.len()), (1, 3), (2, 2), (3, 1), (0, 0)] {
            for rev in [false, true] {
                let (start, end) = (probe(a), probe(b.saturating_sub(1)));
                prop_assert_eq!(entries(&s, start, end, rev), model_range(&m, start, end, rev));
            }
        }
        prop_assert_eq!(entries(&s, StreamId::MIN, StreamId::MAX, true), model_range(&m, StreamId::MIN, StreamId::MAX, true));
        // Every node survives the trip through RDB's form.
        let mut copy = Stream::new();
        for (master, lp) in s.nodes() {
            copy.push_node(master, &lp).unwrap();
        }
        prop_assert_eq!(entries(&copy, StreamId::MIN, StreamId::MAX, false), model_range(&m, StreamId::MIN, StreamId::MAX, false));
    }
}

/// Redis 7.0's estimate (the entries-read of groups loaded from a pre-7.0 file, and XINFO's
/// lag); the cases before the deletions were read back from Redis 7.0.15 after loading such a
/// file.
#[test]
fn entries_read_estimates() {
    let one = NodeLimits::default();
    let mut s = Stream::new();
    assert_eq!(s.estimate_entries_read(StreamId::new(5, 0)), Some(0));
    for ms in 1..=5 {
        s.append(StreamId::new(ms, 1), &[b"f", b"v"], one);
    }
    let at = |s: &Stream, ms, seq| s.estimate_entries_read(StreamId::new(ms, seq));
    assert_eq!(at(&s, 0, 0), Some(0));
    assert_eq!(at(&s, 1, 1), Some(1));
    assert_eq!(at(&s, 2, 1), None);
    assert_eq!(at(&s, 5, 1), Some(5));
    assert_eq!(at(&s, 9, 9), None);
    // A deletion after the first entry hides what lies before it...
    s.delete(StreamId::new(3, 1));
    assert_eq!(at(&s, 0, 0), None);
    assert_eq!(at(&s, 5, 1), Some(5));
    // ...but not once it is behind the first entry.
    s.delete(StreamId::new(1, 1));
    s.delete(StreamId::new(2, 1));
    assert_eq!(s.first_id(), StreamId::new(4, 1));
    assert_eq!(at(&s, 1, 0), Some(3));
    assert_eq!(at(&s, 4, 1), Some(4));
    s.trim(TrimTo::MaxLen(0), false, 0);
    assert_eq!(at(&s, 1, 0), Some(5));
    assert_eq!(at(&s, 6, 0), None);
}

/// An approximate MINID is propagated as the first entry left in a node, deleted or not.
#[test]
fn first_entry_id_with_deleted_sees_tombstones() {
    let mut s = Stream::new();
    assert_eq!(s.first_entry_id_with_deleted(), None);
    for i in 1..=3 {
        s.append(StreamId::new(i, 0), &[b"f", b"v"], NodeLimits::default());
    }
    assert!(s.delete(StreamId::new(1, 0)));
    assert_eq!(s.first_id(), StreamId::new(2, 0));
    assert_eq!(s.first_entry_id_with_deleted(), Some(StreamId::new(1, 0)));
}
