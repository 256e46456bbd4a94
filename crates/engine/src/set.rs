//! A set, encoded as Redis 7.0 encodes it: an `intset` (a sorted array of integers of the
//! smallest width that fits all of them) while every member is the canonical text of an `i64`
//! and there are at most `set-max-intset-entries` members, otherwise a `hashtable`. Redis 7.0
//! has no listpack encoding for sets, and never converts a set back to an intset.
//!
//! The set algorithms (intersection, union, difference) live here, so every command (and SORT)
//! shares one implementation; they build their results by adding members one at a time, as
//! Redis does, so a stored result gets the encoding Redis would give it.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use rand::Rng;
use redis_lite_protocol::number::parse_i64;

use crate::bytes::SmallBytes;

/// A member as stored: an integer in an intset, bytes in a hashtable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's text (an integer's decimal digits).
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match *self {
            Member::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            Member::Bytes(b) => Cow::Borrowed(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Set {
    repr: Repr,
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Ints(IntSet),
    Table(Table),
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl Set {
    /// An empty set; it starts as an intset, as Redis's destination sets do.
    pub fn new() -> Self {
        Set {
            repr: Repr::Ints(IntSet::default()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len(),
            Repr::Table(t) => t.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.data.len(),
            Repr::Table(t) => {
                let members: usize = t.slots.iter().flatten().map(|m| m.heap_size()).sum();
                t.slots.len() * std::mem::size_of::<Slot>() + members
            }
        }
    }

    /// Adds `member`; returns whether it was new. The set becomes a hashtable when the member
    /// is not an integer or the intset grows past `max_intset_entries`.
    pub fn insert(&mut self, member: &[u8], max_intset_entries: usize) -> bool {
        if let Repr::Ints(ints) = &mut self.repr {
            match as_int(member) {
                Some(n) => {
                    if !ints.insert(n) {
                        return false;
                    }
                    if ints.len() > max_intset_entries {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match &mut self.repr {
            Repr::Table(t) => t.insert(member),
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Adds a member taken from another set.
    fn insert_member(&mut self, member: Member<'_>, max_intset_entries: usize) -> bool {
        match (member, &mut self.repr) {
            (Member::Int(n), Repr::Ints(ints)) if ints.len() < max_intset_entries => ints.insert(n),
            _ => self.insert(&member.to_bytes(), max_intset_entries),
        }
    }

    /// Removes `member`; returns whether it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => as_int(member).is_some_and(|n| ints.remove(n)),
            Repr::Table(t) => t.remove(member),
        }
    }

    fn remove_member(&mut self, member: Member<'_>) -> bool {
        match (member, &mut self.repr) {
            (Member::Int(n), Repr::Ints(ints)) => ints.remove(n),
            _ => self.remove(&member.to_bytes()),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(ints) => as_int(member).is_some_and(|n| ints.search(n).is_ok()),
            Repr::Table(t) => t.find(member).is_some(),
        }
    }

    /// Membership of a member taken from another set, without formatting integers when both
    /// sets are intsets.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (member, &self.repr) {
            (Member::Int(n), Repr::Ints(ints)) => ints.search(n).is_ok(),
            (Member::Bytes(b), _) => self.contains(b),
            (Member::Int(_), Repr::Table(_)) => self.contains(&member.to_bytes()),
        }
    }

    /// The members: ascending for an intset, in table order for a hashtable.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Ints(ints) => Iter::Ints { ints, next: 0 },
            Repr::Table(t) => Iter::Table(t.slots.iter()),
        }
    }

    /// A uniformly chosen member, or None when empty.
    pub fn random(&self, rng: &mut impl Rng) -> Option<Member<'_>> {
        if self.is_empty() {
            return None;
        }
        Some(match &self.repr {
            Repr::Ints(ints) => Member::Int(ints.get(rng.gen_range(0..ints.len()))),
            Repr::Table(t) => Member::Bytes(t.random(rng)),
        })
    }

    /// Up to `count` distinct members chosen at random (the whole set, in iteration order,
    /// when `count` reaches its size), as SRANDMEMBER with a positive count.
    pub fn random_distinct(&self, count: usize, rng: &mut impl Rng) -> Vec<Member<'_>> {
        if count.saturating_mul(3) <= self.len() {
            // Few of many: random picks, skipping repeats, without a snapshot of the set.
            let mut seen = std::collections::HashSet::with_capacity(count);
            let mut picked = Vec::with_capacity(count);
            while picked.len() < count {
                let m = self.random(rng).expect("count < len");
                if seen.insert(m) {
                    picked.push(m);
                }
            }
            return picked;
        }
        let mut all: Vec<Member<'_>> = self.iter().collect();
        if count >= all.len() {
            return all;
        }
        partial_shuffle(&mut all, count, rng);
        all.truncate(count);
        all
    }

    /// Removes up to `count` distinct random members and returns them, so a caller can log the
    /// pop as the removal of these concrete members.
    pub fn pop(&mut self, count: usize, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        if count >= self.len() {
            let all = self.iter().map(|m| m.to_vec()).collect();
            *self = Set::new();
            return all;
        }
        let chosen: Vec<Vec<u8>> = if count.saturating_mul(5) > self.len() {
            // Many members: choosing among a snapshot beats retrying random picks.
            self.random_distinct(count, rng)
                .iter()
                .map(Member::to_vec)
                .collect()
        } else {
            let mut picked: Vec<Vec<u8>> = Vec::with_capacity(count);
            while picked.len() < count {
                let m = self.random(rng).expect("count < len").to_vec();
                self.remove(&m);
                picked.push(m);
            }
            return picked;
        };
        for m in &chosen {
            self.remove(m);
        }
        chosen
    }

    /// Visits the members of the hashtable bucket `cursor` names and returns the next cursor,
    /// which walks buckets in reverse-binary order: every member present for a whole scan is
    /// visited even if the table grows or shrinks in between. An intset is visited whole in
    /// one call, returning cursor 0, as Redis does with its compact encodings.
    pub fn scan<'s>(&'s self, cursor: u64, mut visit: impl FnMut(Member<'s>)) -> u64 {
        match &self.repr {
            Repr::Ints(_) => {
                self.iter().for_each(visit);
                0
            }
            Repr::Table(t) => t.scan(cursor, |m| visit(Member::Bytes(m))),
        }
    }

    fn convert(&mut self) {
        if let Repr::Ints(ints) = &self.repr {
            let mut table = Table::with_capacity(ints.len() + 1);
            for i in 0..ints.len() {
                table.insert(ints.get(i).to_string().as_bytes());
            }
            self.repr = Repr::Table(table);
        }
    }

    /// The members common to all `sets`, built as SINTERSTORE builds its destination.
    pub fn intersection(sets: &[&Set], max_intset_entries: usize) -> Set {
        let mut result = Set::new();
        for m in intersection_iter(sets) {
            result.insert_member(m, max_intset_entries);
        }
        result
    }

    /// How many members all `sets` share, counting no further than `limit` (0: no limit).
    pub fn intersection_card(sets: &[&Set], limit: usize) -> usize {
        let found = intersection_iter(sets);
        if limit == 0 {
            found.count()
        } else {
            found.take(limit).count()
        }
    }

    /// The members of any of `sets`.
    pub fn union(sets: &[&Set], max_intset_entries: usize) -> Set {
        let mut result = Set::new();
        for m in sets.iter().flat_map(|s| s.iter()) {
            result.insert_member(m, max_intset_entries);
        }
        result
    }

    /// The members of `first` in none of `others`. Like Redis, it either filters `first`'s
    /// members (when `first` is small against the others) or copies `first` and removes the
    /// others' members, whichever does less work; the second way can leave a hashtable where
    /// the first would make an intset, which SDIFFSTORE's destination then shows.
    pub fn difference(first: &Set, others: &[&Set], max_intset_entries: usize) -> Set {
        let mut result = Set::new();
        if others.iter().any(|o| std::ptr::eq(*o, first)) {
            return result;
        }
        let filter_work = first.len() * (others.len() + 1) / 2;
        let remove_work = first.len() + others.iter().map(|o| o.len()).sum::<usize>();
        if filter_work <= remove_work {
            for m in first.iter() {
                if !others.iter().any(|o| o.contains_member(m)) {
                    result.insert_member(m, max_intset_entries);
                }
            }
        } else {
            for m in first.iter() {
                result.insert_member(m, max_intset_entries);
            }
            for m in others.iter().flat_map(|o| o.iter()) {
                result.remove_member(m);
                if result.is_empty() {
                    break;
                }
            }
        }
        result
    }
}

/// The members of the smallest set that every other set holds.
fn intersection_iter<'s>(sets: &[&'s Set]) -> impl Iterator<Item = Member<'s>> + 's {
    let mut sorted: Vec<&'s Set> = sets.to_vec();
    sorted.sort_by_key(|s| s.len());
    let (smallest, rest) = match sorted.split_first() {
        Some((s, rest)) => (Some(*s), rest.to_vec()),
        None => (None, Vec::new()),
    };
    smallest
        .into_iter()
        .flat_map(|s| s.iter())
        .filter(move |m| rest.iter().all(|o| o.contains_member(*m)))
}

/// Moves `count` uniformly chosen items to the front of `items`.
fn partial_shuffle<T>(items: &mut [T], count: usize, rng: &mut impl Rng) {
    for i in 0..count.min(items.len()) {
        let j = rng.gen_range(i..items.len());
        items.swap(i, j);
    }
}

/// The integer an intset would store for `member`: canonical `i64` text only (no sign on
/// zero, no leading zeros or spaces), as Redis's `string2ll`.
fn as_int(member: &[u8]) -> Option<i64> {
    if member.len() > 20 {
        return None;
    }
    parse_i64(member)
}

pub enum Iter<'a> {
    Ints { ints: &'a IntSet, next: usize },
    Table(std::slice::Iter<'a, Slot>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            Iter::Ints { ints, next } => {
                if *next >= ints.len() {
                    return None;
                }
                *next += 1;
                Some(Member::Int(ints.get(*next - 1)))
            }
            Iter::Table(slots) => slots.find_map(|s| s.as_deref()).map(Member::Bytes),
        }
    }
}

/// Sorted integers stored little-endian at the smallest width (2, 4 or 8 bytes) that fits all
/// of them; inserting a wider value widens every element.
#[derive(Clone, Debug)]
pub struct IntSet {
    width: u8,
    /// Exactly sized, as Redis's intset, so a small set costs no slack.
    data: Box<[u8]>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            width: 2,
            data: Box::default(),
        }
    }
}

impl PartialEq for IntSet {
    /// Equal members, whatever the widths (an intset never narrows after a removal).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && (0..self.len()).all(|i| self.get(i) == other.get(i))
    }
}

fn width_for(n: i64) -> u8 {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    fn len(&self) -> usize {
        self.data.len() / self.width as usize
    }

    fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        read_int(&self.data[i * w..(i + 1) * w])
    }

    fn search(&self, n: i64) -> Result<usize, usize> {
        if width_for(n) > self.width {
            // Wider than every element: it would go past one end.
            return Err(if n < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn insert(&mut self, n: i64) -> bool {
        let Err(pos) = self.search(n) else {
            return false;
        };
        let width = width_for(n).max(self.width);
        if width > self.width {
            let widened: Vec<u8> = (0..self.len())
                .flat_map(|i| write_int(self.get(i), width as usize))
                .collect();
            self.data = widened.into_boxed_slice();
            self.width = width;
        }
        let w = self.width as usize;
        let at = pos * w;
        let mut data = std::mem::take(&mut self.data).into_vec();
        data.reserve_exact(w);
        data.splice(at..at, write_int(n, w).iter().copied());
        self.data = data.into_boxed_slice();
        true
    }

    fn remove(&mut self, n: i64) -> bool {
        let Ok(pos) = self.search(n) else {
            return false;
        };
        let at = pos * self.width as usize;
        let mut data = std::mem::take(&mut self.data).into_vec();
        data.drain(at..at + self.width as usize);
        self.data = data.into_boxed_slice();
        true
    }
}

fn read_int(bytes: &[u8]) -> i64 {
    match bytes.len() {
        2 => i16::from_le_bytes([bytes[0], bytes[1]]).into(),
        4 => i32::from_le_bytes(bytes.try_into().expect("4 bytes")).into(),
        _ => i64::from_le_bytes(bytes.try_into().expect("8 bytes")),
    }
}

fn write_int(n: i64, width: usize) -> Vec<u8> {
    n.to_le_bytes()[..width].to_vec()
}

type Slot = Option<SmallBytes>;

/// Open addressing with linear probing. A member sits in the run of occupied slots that starts
/// at its home slot (hash & mask); removal shifts later members back to keep that true, so a
/// scan can visit one home slot at a time with the keyspace's reverse-binary cursor.
#[derive(Clone, Debug, Default)]
struct Table {
    slots: Box<[Slot]>,
    len: usize,
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.slots.iter().flatten().all(|m| other.find(m).is_some())
    }
}

const MIN_SLOTS: usize = 4;

/// A per-process seed, so clients cannot choose members that collide.
fn hash(member: &[u8]) -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    foldhash::fast::FixedState::with_seed(*SEED.get_or_init(rand::random)).hash_one(member)
}

impl Table {
    fn with_capacity(members: usize) -> Self {
        let slots = (members * 4 / 3 + 1).next_power_of_two().max(MIN_SLOTS);
        Table {
            slots: (0..slots).map(|_| None).collect(),
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, member: &[u8]) -> usize {
        hash(member) as usize & self.mask()
    }

    fn find(&self, member: &[u8]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut i = self.home(member);
        loop {
            match &self.slots[i] {
                None => return None,
                Some(m) if **m == *member => return Some(i),
                Some(_) => i = (i + 1) & self.mask(),
            }
        }
    }

    fn insert(&mut self, member: &[u8]) -> bool {
        if self.find(member).is_some() {
            return false;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
        self.place(SmallBytes::new(member));
        self.len += 1;
        true
    }

    /// Puts a member known to be absent into the first free slot of its run.
    fn place(&mut self, member: SmallBytes) {
        let mut i = self.home(&member);
        while self.slots[i].is_some() {
            i = (i + 1) & self.mask();
        }
        self.slots[i] = Some(member);
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let Some(mut hole) = self.find(member) else {
            return false;
        };
        self.slots[hole] = None;
        self.len -= 1;
        // Shift back each later member of the run whose home is not between the hole and it.
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask();
            let Some(m) = &self.slots[j] else { break };
            let from_home = j.wrapping_sub(self.home(m)) & self.mask();
            let from_hole = j.wrapping_sub(hole) & self.mask();
            if from_home >= from_hole {
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
        }
        // Shrink when under 1/8 full, so an emptied set gives its memory back.
        if self.len * 8 < self.slots.len() && self.slots.len() > MIN_SLOTS {
            self.resize((self.len * 2).next_power_of_two().max(MIN_SLOTS));
        }
        true
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, (0..slots).map(|_| None).collect());
        for m in old.into_vec().into_iter().flatten() {
            self.place(m);
        }
    }

    fn random(&self, rng: &mut impl Rng) -> &[u8] {
        loop {
            if let Some(m) = &self.slots[rng.gen_range(0..self.slots.len())] {
                return m;
            }
        }
    }

    fn scan<'s>(&'s self, cursor: u64, mut visit: impl FnMut(&'s [u8])) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = self.mask() as u64;
        let start = (cursor & mask) as usize;
        let mut i = start;
        while let Some(m) = &self.slots[i] {
            if self.home(m) == start {
                visit(m);
            }
            i = (i + 1) & self.mask();
            if i == start {
                break;
            }
        }
        (cursor | !mask)
            .reverse_bits()
            .wrapping_add(1)
            .reverse_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const MAX: usize = 512;

    fn set_of(members: &[&str]) -> Set {
        let mut s = Set::new();
        for m in members {
            s.insert(m.as_bytes(), MAX);
        }
        s
    }

    fn members(s: &Set) -> Vec<String> {
        let mut v: Vec<String> = s
            .iter()
            .map(|m| String::from_utf8(m.to_vec()).unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn slots_are_compact() {
        assert_eq!(std::mem::size_of::<Slot>(), 24);
        assert_eq!(std::mem::size_of::<Set>(), 32);
    }

    #[test]
    fn intset_stays_sorted_and_widens() {
        let mut s = Set::new();
        for n in [5i64, -3, 70000, 1, i64::MIN, 5] {
            s.insert(n.to_string().as_bytes(), MAX);
        }
        assert_eq!(s.encoding(), "intset");
        let got: Vec<Member> = s.iter().collect();
        assert_eq!(got, [i64::MIN, -3, 1, 5, 70000].map(Member::Int).to_vec());
        let Repr::Ints(ints) = &s.repr else { panic!() };
        assert_eq!(ints.width, 8);
        assert!(s.contains(b"70000") && !s.contains(b"70001") && !s.contains(b"+1"));
        assert!(s.remove(b"-3") && !s.remove(b"-3"));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn intset_width_grows_16_32_64() {
        let mut s = set_of(&["1"]);
        let width = |s: &Set| match &s.repr {
            Repr::Ints(i) => i.width,
            _ => 0,
        };
        assert_eq!(width(&s), 2);
        s.insert(b"-40000", MAX);
        assert_eq!(width(&s), 4);
        s.insert(b"5000000000", MAX);
        assert_eq!(width(&s), 8);
        assert_eq!(members(&s), ["-40000", "1", "5000000000"]);
    }

    #[test]
    fn non_canonical_integers_make_a_hashtable() {
        for text in ["01", "-0", "+1", " 1", "1.0", "99999999999999999999", "a"] {
            let s = set_of(&["1", text]);
            assert_eq!(s.encoding(), "hashtable", "{text}");
            assert!(s.contains(text.as_bytes()) && s.contains(b"1"));
        }
    }

    #[test]
    fn converts_past_max_entries() {
        let mut s = Set::new();
        for i in 0..4 {
            s.insert(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"4", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(members(&s), ["0", "1", "2", "3", "4"]);
        s.remove(b"4");
        assert_eq!(s.encoding(), "hashtable", "never converts back");
    }

    #[test]
    fn table_insert_remove_many() {
        let mut s = set_of(&["x"]);
        for i in 0..5000 {
            assert!(s.insert(format!("m{i}").as_bytes(), MAX));
        }
        assert!(!s.insert(b"m17", MAX));
        for i in 0..4990 {
            assert!(s.remove(format!("m{i}").as_bytes()), "{i}");
        }
        assert_eq!(s.len(), 11);
        for i in 4990..5000 {
            assert!(s.contains(format!("m{i}").as_bytes()));
        }
        let Repr::Table(t) = &s.repr else { panic!() };
        assert!(t.slots.len() <= 64, "shrank: {}", t.slots.len());
        assert_eq!(s.iter().count(), 11);
    }

    #[test]
    fn equality_ignores_layout() {
        let a = set_of(&["a", "b", "c"]);
        let mut b = set_of(&["c", "x", "b", "a"]);
        b.remove(b"x");
        assert_eq!(a, b);
        let mut wide = set_of(&["1", "100000"]);
        wide.remove(b"100000");
        assert_eq!(wide, set_of(&["1"]));
        assert_ne!(a, set_of(&["a", "b"]));
    }

    #[test]
    fn scan_returns_every_stable_member_across_resizes() {
        let mut s = set_of(&["seed"]);
        let stable: Vec<String> = (0..300).map(|i| format!("stable{i}")).collect();
        for m in &stable {
            s.insert(m.as_bytes(), MAX);
        }
        let mut seen = HashSet::new();
        let (mut cursor, mut step) = (0, 0);
        loop {
            cursor = s.scan(cursor, |m| {
                seen.insert(m.to_vec());
            });
            step += 1;
            if step % 3 == 0 {
                for j in 0..400 {
                    s.insert(format!("churn{step}-{j}").as_bytes(), MAX);
                }
            } else if step % 3 == 1 {
                let churn: Vec<Vec<u8>> = s
                    .iter()
                    .map(|m| m.to_vec())
                    .filter(|m| m.starts_with(b"churn"))
                    .collect();
                for m in churn {
                    s.remove(&m);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for m in &stable {
            assert!(seen.contains(m.as_bytes()), "missing {m}");
        }
    }

    #[test]
    fn intset_scan_is_one_call() {
        let s = set_of(&["3", "1", "2"]);
        let mut seen = Vec::new();
        assert_eq!(s.scan(0, |m| seen.push(m)), 0);
        assert_eq!(seen, [1, 2, 3].map(Member::Int).to_vec());
    }

    #[test]
    fn algebra() {
        let a = set_of(&["1", "2", "3", "x"]);
        let b = set_of(&["2", "3", "4"]);
        let c = set_of(&["3", "x", "2"]);
        let inter = Set::intersection(&[&a, &b, &c], MAX);
        assert_eq!(members(&inter), ["2", "3"]);
        assert_eq!(inter.encoding(), "intset");
        assert_eq!(Set::intersection_card(&[&a, &b, &c], 0), 2);
        assert_eq!(Set::intersection_card(&[&a, &b, &c], 1), 1);
        let union = Set::union(&[&a, &b], MAX);
        assert_eq!(members(&union), ["1", "2", "3", "4", "x"]);
        assert_eq!(members(&Set::difference(&a, &[&b], MAX)), ["1", "x"]);
        assert!(Set::difference(&a, &[&b, &a], MAX).is_empty());
        assert!(Set::intersection(&[], MAX).is_empty());
    }

    #[test]
    fn difference_by_removal_keeps_first_sets_encoding() {
        // Filtering would do more work than copying and removing, so the copy's hashtable
        // encoding (from "a") survives although the result holds only integers, as in Redis.
        let first = set_of(&["1", "2", "3", "a"]);
        let x = set_of(&["a"]);
        let y = set_of(&["a"]);
        let z = set_of(&["a"]);
        let d = Set::difference(&first, &[&x, &y, &z], MAX);
        assert_eq!(members(&d), ["1", "2", "3"]);
        assert_eq!(d.encoding(), "hashtable");
        let d = Set::difference(&first, &[&x], MAX);
        assert_eq!(d.encoding(), "intset");
    }

    #[test]
    fn pop_and_random() {
        let mut rng = rand::thread_rng();
        for (size, count) in [(10, 1), (100, 3), (100, 50), (20, 20), (20, 30)] {
            for strings in [false, true] {
                let mut s = Set::new();
                for i in 0..size {
                    let m = if strings {
                        format!("s{i}")
                    } else {
                        i.to_string()
                    };
                    s.insert(m.as_bytes(), MAX);
                }
                let distinct = s.random_distinct(count, &mut rng);
                let uniq: HashSet<Vec<u8>> = distinct.iter().map(|m| m.to_vec()).collect();
                assert_eq!(
                    (distinct.len(), uniq.len()),
                    (count.min(size), count.min(size))
                );
                let popped = s.pop(count, &mut rng);
                let uniq: HashSet<&Vec<u8>> = popped.iter().collect();
                assert_eq!(uniq.len(), count.min(size));
                assert_eq!(s.len(), size - count.min(size));
                assert!(popped.iter().all(|m| !s.contains(m)));
            }
        }
        assert!(Set::new().random(&mut rng).is_none());
    }
}
