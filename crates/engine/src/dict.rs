//! `Dict`: the keyspace's hash table. Chained buckets in a power-of-two array, so SCAN can walk
//! buckets with Redis's reverse-binary cursor and still return every key that was present for
//! the whole scan, even when the table grows or shrinks between calls.
//!
//! Memory is what shapes it. Entries are not boxed one by one: they sit densely packed in a
//! slab of fixed-size chunks, and chains link slab positions (`u32`), so a key costs its 44-byte
//! entry and about one 4-byte bucket, with no allocator rounding per entry and no pointer-sized
//! links. An entry packs a short key and a short string or integer value side by side (see
//! [`Entry`]); anything larger lives out of line. Removal keeps the slab dense by moving the
//! last entry into the hole (and relinking it), so the slab never holds free slots and gives
//! chunks back as the table shrinks.

use crate::bytes::{self, SmallBytes};
use crate::value::Value;
use std::borrow::Cow;

/// A read view of an entry's value: borrowed when the value lives out of line, rebuilt when it
/// is packed in the entry (a short string or an integer: rebuilding allocates nothing).
pub type ValueRef<'a> = Cow<'a, Value>;

/// A string value as an entry stores it: see [`Entry::string`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StringRef<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

/// One key with its value, expiry and access time, packed into 44 bytes with no padding:
/// `next` and `access`, one byte saying what the packed area holds (the layout below, and
/// whether an 8-byte expiry follows the value), the key's length, a packed string's length,
/// then 33 bytes of area. The layouts:
/// - packed string: key bytes, string bytes (at most [`bytes::INLINE`]), [expiry];
/// - packed integer: key bytes, the `i64`, [expiry];
/// - heap string: key bytes, the address of the string's own heap bytes, the high byte of
///   its length (the low byte is the packed string length's), [expiry]: strings up to 64 KiB
///   that are not packed (the heap allocation a long `SmallBytes` had, or one of the string's
///   length for a short one with no room beside its key and expiry);
/// - boxed: key bytes, the address of a `Box<Value>`, [expiry] (collections, longer strings,
///   and strings a command is changing in place);
/// - spilled: the address of a `Box<Spilled>` holding key, value and expiry (a key too long
///   for the area beside its value).
///
/// For 16-byte keys and values that is 44 bytes a key where separate `SmallBytes` key and
/// `Value` fields cost 56; a key that only has a TTL pays 8 bytes of area, not an allocation.
/// The value, key and expiry are reached through methods: how they are stored is this
/// module's business and no command's.
///
/// The addresses are kept as bytes because a pointer field would make the entry 8-aligned:
/// 48 bytes, about 53 B/key for 16 + 16 with the bucket, where 44 measure 48.9 (issue 20's goal
/// is 50). That is the `unsafe` here: each address is a `Box` this entry owns, taken back
/// exactly once (when the layout changes, in [`Entry::take_parts`], or on drop).
#[repr(C)]
pub struct Entry {
    /// The slab position of the next entry in this entry's bucket chain, or [`END`]. Meaningless
    /// outside a table.
    next: u32,
    /// Last access: the LRU clock in seconds, or an LFU counter and minutes (see `evict`).
    access: u32,
    /// One of [`PACKED_STR`], [`PACKED_INT`], [`HEAP_STR`], [`BOXED`], [`SPILLED`], plus
    /// [`HAS_TTL`].
    layout: u8,
    /// The key's length, in the area (not spilled).
    key_len: u8,
    /// A packed string's length (a heap string's low byte).
    str_len: u8,
    area: [u8; AREA],
}

// An entry owns its boxes through addresses, which makes it `Send` and `Sync` whatever it
// holds: this keeps that honest.
const _: fn() = || {
    fn owned_parts_are<T: Send + Sync>() {}
    owned_parts_are::<Value>();
    owned_parts_are::<Spilled>();
};

const AREA: usize = 33;
/// An integer, an address or an expiry in the area.
const WORD: usize = 8;
const PACKED_STR: u8 = 0;
const PACKED_INT: u8 = 1;
const BOXED: u8 = 2;
const SPILLED: u8 = 3;
const HEAP_STR: u8 = 4;
/// The longest heap string kept by address: its length has 16 bits.
const HEAP_STR_MAX: usize = u16::MAX as usize;
/// The key has an expiry: in the area after the value, or in the `Spilled` box.
const HAS_TTL: u8 = 0x80;

/// A key too long to sit in an entry beside its value, out of line with the value and expiry.
struct Spilled {
    key: Box<[u8]>,
    value: Value,
    /// Absolute expiry in Unix milliseconds; 0: none.
    expire_at: u64,
}

impl Entry {
    #[inline]
    pub fn new(key: &[u8], value: Value) -> Self {
        Entry::pack(key, value, 0, 0, true)
    }

    /// Packs a key, value and expiry (0: none) in the smallest layout they fit; `packable`
    /// false keeps the value out of line (for a caller about to change it in place).
    /// Inlined: it is most of a new key's insertion (SET of a new key), and its callers' constant
    /// arguments fold away the layouts they cannot take.
    #[inline]
    fn pack(key: &[u8], value: Value, expire_at: u64, access: u32, packable: bool) -> Self {
        let mut entry = Entry {
            next: END,
            access,
            layout: PACKED_STR,
            key_len: 0,
            str_len: 0,
            area: [0; AREA],
        };
        let ttl = if expire_at == 0 { 0 } else { WORD };
        let fits = |len: usize| key.len() + len + ttl <= AREA;
        let layout = match &value {
            Value::Str(s) if packable && s.len() <= bytes::INLINE && fits(s.len()) => PACKED_STR,
            Value::Int(_) if packable && fits(WORD) => PACKED_INT,
            Value::Str(s) if packable && s.len() <= HEAP_STR_MAX && fits(WORD + 1) => HEAP_STR,
            _ if fits(WORD) => BOXED,
            _ => return Entry::spill(entry, key, value, expire_at),
        };
        entry.key_len = key.len() as u8;
        entry.area[..key.len()].copy_from_slice(key);
        entry.store_value(layout, value);
        entry.store_expiry(expire_at);
        entry
    }

    /// [`Entry::pack`] for a key too long to sit beside its value (off the hot path).
    #[cold]
    fn spill(mut entry: Entry, key: &[u8], value: Value, expire_at: u64) -> Self {
        let spilled = Box::new(Spilled {
            key: key.into(),
            value,
            expire_at,
        });
        entry.layout = SPILLED | if expire_at == 0 { 0 } else { HAS_TTL };
        entry.set_word(0, Box::into_raw(spilled).expose_provenance() as u64);
        entry
    }

    /// Writes `value` after the key in the (not spilled) `layout` chosen for it, then sets the
    /// layout: until the value is stored the entry still reads as a packed string, which owns
    /// nothing, so an entry dropped half-written never frees an address it does not hold.
    #[inline]
    fn store_value(&mut self, layout: u8, value: Value) {
        let at = self.key_len as usize;
        match (layout, value) {
            (PACKED_STR, Value::Str(s)) => {
                self.str_len = s.len() as u8;
                self.area[at..at + s.len()].copy_from_slice(&s);
            }
            (PACKED_INT, Value::Int(n)) => self.set_word(at, n as u64),
            (HEAP_STR, Value::Str(s)) => {
                // A long string's own allocation; a short one that did not fit beside its key
                // and expiry gets one of its length (smaller than a `Box<Value>`).
                let bytes = s.into_heap().unwrap_or_else(|short| Box::from(&*short));
                let len = bytes.len();
                let address = Box::into_raw(bytes).cast::<u8>().expose_provenance();
                self.set_word(at, address as u64);
                self.str_len = len as u8;
                self.area[at + WORD] = (len >> 8) as u8;
            }
            (BOXED, value) => {
                let address = Box::into_raw(Box::new(value)).expose_provenance();
                self.set_word(at, address as u64);
            }
            _ => unreachable!("the layout was chosen for this value"),
        }
        self.layout = layout;
    }

    /// Sets or clears the TTL flag and writes a (not spilled) entry's expiry after its value.
    #[inline]
    fn store_expiry(&mut self, expire_at: u64) {
        if expire_at == 0 {
            self.layout &= !HAS_TTL;
        } else {
            self.layout |= HAS_TTL;
            self.set_word(self.expiry_offset(), expire_at);
        }
    }

    #[inline]
    fn kind(&self) -> u8 {
        self.layout & !HAS_TTL
    }

    /// Where a not spilled entry's expiry starts: after the key and the value.
    #[inline]
    fn expiry_offset(&self) -> usize {
        let value_len = match self.kind() {
            PACKED_STR => self.str_len as usize,
            HEAP_STR => WORD + 1,
            _ => WORD,
        };
        self.key_len as usize + value_len
    }

    #[inline]
    fn word(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.area[at..at + WORD].try_into().expect("8 bytes"))
    }

    #[inline]
    fn set_word(&mut self, at: usize, word: u64) {
        self.area[at..at + WORD].copy_from_slice(&word.to_le_bytes());
    }

    /// The boxed value of a [`BOXED`] entry.
    #[inline]
    fn boxed(&self) -> *mut Value {
        std::ptr::with_exposed_provenance_mut(self.word(self.key_len as usize) as usize)
    }

    /// The box of a [`SPILLED`] entry.
    #[inline]
    fn spilled(&self) -> *mut Spilled {
        std::ptr::with_exposed_provenance_mut(self.word(0) as usize)
    }

    /// The address and length of a [`HEAP_STR`] entry's bytes, the key's length given (so
    /// that it also serves once the layout byte is cleared).
    #[inline]
    fn heap_str_at(&self, at: usize) -> (*mut u8, usize) {
        let len = usize::from(self.str_len) | usize::from(self.area[at + WORD]) << 8;
        (
            std::ptr::with_exposed_provenance_mut(self.word(at) as usize),
            len,
        )
    }

    /// The bytes of a [`HEAP_STR`] entry.
    #[inline]
    fn heap_str(&self) -> &[u8] {
        let (address, len) = self.heap_str_at(self.key_len as usize);
        // SAFETY: the entry owns this allocation of `len` bytes (see `Entry`).
        unsafe { std::slice::from_raw_parts(address, len) }
    }

    /// The packed string of a [`PACKED_STR`] entry.
    #[inline]
    fn packed_str(&self) -> &[u8] {
        let at = self.key_len as usize;
        &self.area[at..at + self.str_len as usize]
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        if self.kind() == SPILLED {
            // SAFETY: a spilled entry owns the live box at this address (see `Entry`).
            unsafe { &(*self.spilled()).key }
        } else {
            &self.area[..self.key_len as usize]
        }
    }

    /// This (new, not yet stored) entry with an absolute expiry in Unix milliseconds (0: none).
    /// Only on an entry outside a table: a stored key's TTL changes through `Db::set_expire`,
    /// which keeps the count of keys with a TTL.
    pub fn expiring_at(mut self, expire_at: u64) -> Self {
        self.set_expire_at(expire_at);
        self
    }

    /// The same entry (value, TTL, access time) under another key (RENAME, MOVE): only on an
    /// entry outside a table.
    pub fn renamed(mut self, key: &[u8]) -> Self {
        let access = self.access;
        let (_, value, expire_at) = self.take_parts();
        Entry::pack(key, value, expire_at, access, true)
    }

    #[inline]
    pub fn value(&self) -> ValueRef<'_> {
        match self.kind() {
            PACKED_STR => Cow::Owned(Value::Str(SmallBytes::new(self.packed_str()))),
            PACKED_INT => Cow::Owned(Value::Int(self.word(self.key_len as usize) as i64)),
            // A copy: readers on a hot path use `Entry::string` instead.
            HEAP_STR => Cow::Owned(Value::Str(SmallBytes::new(self.heap_str()))),
            _ => Cow::Borrowed(self.boxed_value().expect("out of line")),
        }
    }

    /// The value where it lives in a box of its own: always for collections, for strings
    /// past 64 KiB and strings being changed in place; None for the strings and integers kept
    /// in the entry (see [`Entry::value`] for any value).
    #[inline]
    pub fn boxed_value(&self) -> Option<&Value> {
        match self.kind() {
            PACKED_STR | PACKED_INT | HEAP_STR => None,
            // SAFETY: the entry owns the live box at this address (see `Entry`).
            BOXED => Some(unsafe { &*self.boxed() }),
            _ => Some(unsafe { &(*self.spilled()).value }),
        }
    }

    /// A string value as stored, without copying it; None for the other types.
    #[inline]
    pub fn string(&self) -> Option<StringRef<'_>> {
        match self.kind() {
            PACKED_STR => Some(StringRef::Bytes(self.packed_str())),
            PACKED_INT => Some(StringRef::Int(self.word(self.key_len as usize) as i64)),
            HEAP_STR => Some(StringRef::Bytes(self.heap_str())),
            _ => match self.boxed_value() {
                Some(&Value::Int(n)) => Some(StringRef::Int(n)),
                Some(Value::Str(s)) => Some(StringRef::Bytes(s)),
                Some(Value::RawStr(s)) => Some(StringRef::Bytes(s)),
                _ => None,
            },
        }
    }

    /// The value's type as TYPE names it, without rebuilding a string kept in the entry.
    #[inline]
    pub fn type_name(&self) -> &'static str {
        self.boxed_value().map_or("string", Value::type_name)
    }

    /// The text of a string value (an integer as its digits), borrowed where it is stored;
    /// None for the other types.
    #[inline]
    pub fn string_bytes(&self) -> Option<Cow<'_, [u8]>> {
        Some(match self.string()? {
            StringRef::Bytes(bytes) => Cow::Borrowed(bytes),
            StringRef::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        })
    }

    /// The value to change in place. A packed value moves out of line first (into the layout
    /// a long string or a collection has), where it stays until the next [`Entry::replace_value`].
    pub fn value_mut(&mut self) -> &mut Value {
        if matches!(self.kind(), PACKED_STR | PACKED_INT | HEAP_STR) {
            self.repack(false, |_, _| ());
        }
        match self.kind() {
            // SAFETY: the entry owns the live box at this address, and `&mut self` makes this
            // the only reference to it (see `Entry`).
            BOXED => unsafe { &mut *self.boxed() },
            _ => unsafe { &mut (*self.spilled()).value },
        }
    }

    /// Stores `value` in place of the current one, which it returns (the TTL stays).
    pub fn replace_value(&mut self, value: Value) -> Value {
        let packed = match self.kind() {
            PACKED_STR | PACKED_INT => Some(self.value().into_owned()),
            _ => None,
        };
        match self.set_value(value) {
            Some(out_of_line) => out_of_line,
            None => packed.expect("a value set over nothing out of line was packed"),
        }
    }

    /// Stores `value` in place of the current one (the TTL stays), and returns the old one
    /// only when it lived out of line: a packed one is just overwritten, which is all an
    /// overwrite (SET, INCR) needs.
    #[inline]
    pub fn set_value(&mut self, value: Value) -> Option<Value> {
        let at = self.key_len as usize;
        let ttl = if self.has_ttl() { WORD } else { 0 };
        match (self.kind(), &value) {
            // The usual overwrite: packed before and after, the key and TTL stay.
            (PACKED_STR | PACKED_INT, Value::Str(s))
                if s.len() <= bytes::INLINE && at + s.len() + ttl <= AREA =>
            {
                let expire_at = self.expire_at();
                self.layout = PACKED_STR;
                self.str_len = s.len() as u8;
                self.area[at..at + s.len()].copy_from_slice(s);
                self.store_expiry(expire_at);
                None
            }
            (PACKED_STR | PACKED_INT, &Value::Int(n)) if at + WORD + ttl <= AREA => {
                let expire_at = self.expire_at();
                self.layout = PACKED_INT;
                self.set_word(at, n as u64);
                self.store_expiry(expire_at);
                None
            }
            (PACKED_STR | PACKED_INT, _) => {
                self.repacked(value);
                None
            }
            // A collection over a boxed value: the box is reused.
            (BOXED | SPILLED, v) if !matches!(v, Value::Int(_) | Value::Str(_)) => {
                Some(std::mem::replace(self.value_mut(), value))
            }
            _ => Some(self.repacked(value)),
        }
    }

    /// Stores `value` in the layout it fits now, and returns the old value.
    fn repacked(&mut self, value: Value) -> Value {
        self.repack(true, |old, _| std::mem::replace(old, value))
    }

    /// Takes the entry apart, lets `change` edit its value and expiry, and packs it again
    /// (`packable` as in [`Entry::pack`]), keeping its chain link and access time.
    fn repack<R>(&mut self, packable: bool, change: impl FnOnce(&mut Value, &mut u64) -> R) -> R {
        let (access, next) = (self.access, self.next);
        let (key, mut value, mut expire_at) = self.take_parts();
        let result = change(&mut value, &mut expire_at);
        *self = Entry::pack(&key, value, expire_at, access, packable);
        self.next = next;
        result
    }

    pub fn into_value(mut self) -> Value {
        self.take_parts().1
    }

    /// The key, the value and the expiry (0: none), taken apart.
    pub fn into_parts(mut self) -> (SmallBytes, Value, u64) {
        self.take_parts()
    }

    /// Takes the key, value and expiry out, leaving an empty packed entry that owns nothing.
    fn take_parts(&mut self) -> (SmallBytes, Value, u64) {
        let expire_at = self.expire_at();
        let kind = self.kind();
        self.layout = PACKED_STR;
        let key = &self.area[..self.key_len as usize];
        let at = self.key_len as usize;
        let parts = match kind {
            PACKED_STR => (
                SmallBytes::new(key),
                Value::Str(SmallBytes::new(&self.area[at..at + self.str_len as usize])),
                expire_at,
            ),
            PACKED_INT => (
                SmallBytes::new(key),
                Value::Int(self.word(at) as i64),
                expire_at,
            ),
            HEAP_STR => {
                let (address, len) = self.heap_str_at(at);
                // SAFETY: the entry owned this allocation; its layout no longer says so.
                let bytes =
                    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(address, len)) };
                // Back into a `SmallBytes`: inline again when short, else the same allocation.
                let value = Value::Str(SmallBytes::from(Vec::from(bytes)));
                (SmallBytes::new(key), value, expire_at)
            }
            BOXED => {
                // SAFETY: the entry owned this box; its layout no longer says so.
                let value = unsafe { Box::from_raw(self.boxed_at(at)) };
                (SmallBytes::new(key), *value, expire_at)
            }
            _ => {
                // SAFETY: as for `BOXED`.
                let spilled = unsafe { Box::from_raw(self.spilled()) };
                let Spilled { key, value, .. } = *spilled;
                (SmallBytes::from(Vec::from(key)), value, expire_at)
            }
        };
        self.key_len = 0;
        self.str_len = 0;
        parts
    }

    /// [`Entry::boxed`] with the key's length given (the layout byte already cleared).
    fn boxed_at(&self, at: usize) -> *mut Value {
        std::ptr::with_exposed_provenance_mut(self.word(at) as usize)
    }

    /// Absolute expiry in Unix milliseconds; 0 means none.
    #[inline]
    pub fn expire_at(&self) -> u64 {
        if !self.has_ttl() {
            0
        } else if self.kind() == SPILLED {
            // SAFETY: a spilled entry owns the live box at this address (see `Entry`).
            unsafe { (*self.spilled()).expire_at }
        } else {
            self.word(self.expiry_offset())
        }
    }

    #[inline]
    pub fn has_ttl(&self) -> bool {
        self.layout & HAS_TTL != 0
    }

    /// Changes the expiry of an entry: only through `Db`, which counts keys with a TTL.
    pub(crate) fn set_expire_at(&mut self, expire_at: u64) {
        let kind = self.kind();
        if kind == SPILLED {
            // SAFETY: a spilled entry owns the live box at this address (see `Entry`).
            unsafe { (*self.spilled()).expire_at = expire_at };
            self.layout = SPILLED | if expire_at == 0 { 0 } else { HAS_TTL };
        } else if expire_at == 0 || self.has_ttl() || self.expiry_offset() + WORD <= AREA {
            self.store_expiry(expire_at);
        } else {
            // No room for the expiry beside this value: the value moves out of line.
            self.repack(true, |_, at| *at = expire_at);
        }
    }

    /// The access field: the LRU clock in seconds, or an LFU counter and minutes.
    #[inline]
    pub fn access(&self) -> u32 {
        self.access
    }

    #[inline]
    pub fn set_access(&mut self, access: u32) {
        self.access = access;
    }

    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.has_ttl() && self.expire_at() <= now_ms
    }

    /// Heap bytes the entry owns beyond its own size: what it keeps out of line.
    pub fn heap_size(&self) -> usize {
        match self.kind() {
            PACKED_STR | PACKED_INT => 0,
            HEAP_STR => self.heap_str().len(),
            BOXED => std::mem::size_of::<Value>() + self.value().heap_size(),
            _ => std::mem::size_of::<Spilled>() + self.key().len() + self.value().heap_size(),
        }
    }

    /// A copy of this entry's value and TTL under another key (COPY). The copy is a new object,
    /// so its access time is `access`, not the original's.
    pub fn duplicate(&self, key: &[u8], access: u32) -> Entry {
        Entry::pack(
            key,
            self.value().into_owned(),
            self.expire_at(),
            access,
            true,
        )
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if matches!(self.kind(), HEAP_STR | BOXED | SPILLED) {
            drop(self.take_parts());
        }
    }
}

/// The end of a bucket chain (and an empty bucket).
const END: u32 = u32::MAX;
const MIN_BUCKETS: usize = 4;
/// Entries per slab chunk: just under 8 KiB (186 entries of 44 bytes, 8,184 bytes in jemalloc's
/// 8 KiB size class), so a table's partly filled last chunk wastes little even when a keyspace
/// has hundreds of tables. From 16 KiB jemalloc's allocations are "large" and each takes an
/// extra page (its cache-oblivious offset), which cost 25% more resident memory than the
/// entries it held. Not a power of two: the position's division is a multiplication.
const CHUNK: usize = 186;
const _: () = {
    let entry = std::mem::size_of::<Entry>();
    assert!(CHUNK * entry <= 8192 && (CHUNK + 1) * entry > 8192);
};

/// A hash table of [`Entry`]. The caller supplies each key's hash and a hasher for rehashing.
#[derive(Default)]
pub struct Dict {
    /// Per bucket, the slab position of its chain's first entry, or [`END`].
    buckets: Vec<u32>,
    /// Every entry, at positions `0..len`: position `p` is `slab[p / CHUNK][p % CHUNK]`. Every
    /// chunk but the last is full; the first grows by doubling until it holds `CHUNK` (and no
    /// more).
    slab: Vec<Vec<Entry>>,
    len: usize,
}

impl Dict {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the bucket array and the entries: what a lookup's loads range over.
    pub(crate) fn table_bytes(&self) -> usize {
        self.bucket_bytes() + self.len * std::mem::size_of::<Entry>()
    }

    /// Bytes of the bucket array, for memory reporting.
    pub fn bucket_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<u32>()
    }

    #[inline]
    fn index(&self, hash: u64) -> usize {
        (hash as usize) & (self.buckets.len() - 1)
    }

    /// The entry at slab position `pos` (from [`Dict::position`], the table unchanged since).
    #[inline]
    pub(crate) fn at(&self, pos: u32) -> &Entry {
        let pos = pos as usize;
        &self.slab[pos / CHUNK][pos % CHUNK]
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, pos: u32) -> &mut Entry {
        let pos = pos as usize;
        &mut self.slab[pos / CHUNK][pos % CHUNK]
    }

    /// Appends `entry` to the slab and returns its position.
    fn push(&mut self, entry: Entry) -> u32 {
        let pos = u32::try_from(self.len)
            .ok()
            .filter(|&p| p != END)
            .expect("a table holds fewer than 2^32 - 1 keys");
        match self.slab.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => {
                if chunk.len() == chunk.capacity() {
                    // Doubling, capped so that a first chunk never outgrows the others.
                    chunk.reserve_exact(chunk.len().min(CHUNK - chunk.len()));
                }
                chunk.push(entry)
            }
            _ => {
                // The first chunk starts small (a table of a few keys stays small); later ones
                // are allocated whole.
                let mut chunk = if self.slab.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(entry);
                self.slab.push(chunk);
            }
        }
        self.len += 1;
        pos
    }

    /// Takes the slab's last entry out, giving back its chunk when that empties.
    fn pop_last(&mut self) -> Entry {
        let lone = self.slab.len() == 1;
        let chunk = self.slab.last_mut().expect("not empty");
        let entry = chunk.pop().expect("chunks are never empty");
        if chunk.is_empty() {
            self.slab.pop();
        } else if lone && chunk.len() * 4 <= chunk.capacity() {
            // A lone first chunk shrinks with the table, as the bucket array does.
            chunk.shrink_to(chunk.capacity() / 2);
        }
        self.len -= 1;
        entry
    }

    /// The slab position of `key`'s entry, and of the entry before it in its chain (or
    /// [`END`] when it heads the chain). Inlined: it is most of every command's lookup.
    #[inline]
    fn find(&self, hash: u64, key: &[u8]) -> Option<(u32, u32)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut prev = END;
        let mut pos = self.buckets[self.index(hash)];
        while pos != END {
            let entry = self.at(pos);
            if entry.key() == key {
                return Some((pos, prev));
            }
            prev = pos;
            pos = entry.next;
        }
        None
    }

    /// Loads `hash`'s bucket into the cache: the first step of [`Keyspace::warm`].
    ///
    /// [`Keyspace::warm`]: crate::keyspace::Keyspace::warm
    #[inline]
    pub(crate) fn touch_bucket(&self, hash: u64) {
        if !self.buckets.is_empty() {
            std::hint::black_box(self.buckets[self.index(hash)]);
        }
    }

    /// Loads the first entry of `hash`'s chain, whose bucket [`Dict::touch_bucket`] loaded.
    #[inline]
    pub(crate) fn touch_chain(&self, hash: u64) {
        if self.buckets.is_empty() {
            return;
        }
        let pos = self.buckets[self.index(hash)];
        if pos != END {
            std::hint::black_box(self.at(pos).layout);
        }
    }

    #[inline]
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        let (pos, _) = self.find(hash, key)?;
        Some(self.at(pos))
    }

    /// Where `key`'s entry is in the slab, for a caller that must reach it again after other
    /// borrows of the table's owner ([`Dict::at_mut`]) without a second lookup.
    /// Valid until the table next changes shape (an insertion or removal).
    #[inline]
    pub(crate) fn position(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.find(hash, key).map(|(pos, _)| pos)
    }

    #[inline]
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        let (pos, _) = self.find(hash, key)?;
        Some(self.at_mut(pos))
    }

    /// Inserts an entry whose key is known to be absent, and returns it.
    pub fn insert_new(
        &mut self,
        hash: u64,
        mut entry: Entry,
        rehash: impl Fn(&[u8]) -> u64,
    ) -> &mut Entry {
        if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS), &rehash);
        }
        let idx = self.index(hash);
        entry.next = self.buckets[idx];
        let pos = self.push(entry);
        self.buckets[idx] = pos;
        self.at_mut(pos)
    }

    pub fn remove(
        &mut self,
        hash: u64,
        key: &[u8],
        rehash: impl Fn(&[u8]) -> u64,
    ) -> Option<Entry> {
        let (pos, prev) = self.find(hash, key)?;
        let next = self.at(pos).next;
        self.set_link(self.index(hash), prev, next);
        let last = (self.len - 1) as u32;
        let entry = if pos == last {
            self.pop_last()
        } else {
            // Fill the hole with the last entry: whatever linked to it now links to `pos`.
            let moved_bucket = self.index(rehash(self.at(last).key()));
            let mut before = END;
            let mut walk = self.buckets[moved_bucket];
            while walk != last {
                before = walk;
                walk = self.at(walk).next;
            }
            self.set_link(moved_bucket, before, pos);
            let moved = self.pop_last();
            std::mem::replace(self.at_mut(pos), moved)
        };
        // Shrink below 1/8 full, as Redis does, so a table that emptied gives its memory back.
        if self.len * 8 < self.buckets.len() && self.buckets.len() > MIN_BUCKETS {
            let target = self.len.next_power_of_two().max(MIN_BUCKETS);
            self.resize(target, &rehash);
        }
        if self.len == 0 {
            self.buckets = Vec::new();
        }
        Some(entry)
    }

    /// Points the link after `prev` (or bucket `bucket`'s head when `prev` is [`END`]) at `to`.
    fn set_link(&mut self, bucket: usize, prev: u32, to: u32) {
        if prev == END {
            self.buckets[bucket] = to;
        } else {
            self.at_mut(prev).next = to;
        }
    }

    fn resize(&mut self, size: usize, rehash: &impl Fn(&[u8]) -> u64) {
        self.buckets = vec![END; size];
        for pos in 0..self.len as u32 {
            let idx = self.index(rehash(self.at(pos).key()));
            let head = std::mem::replace(&mut self.buckets[idx], pos);
            self.at_mut(pos).next = head;
        }
    }

    pub fn clear(&mut self) {
        *self = Dict::default();
    }

    /// Empties the table, handing each entry to `f`.
    pub fn drain(self, f: impl FnMut(Entry)) {
        self.slab.into_iter().flatten().for_each(f);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slab.iter().flatten()
    }

    /// The entries of bucket `idx`'s chain.
    fn chain(&self, idx: usize) -> impl Iterator<Item = &Entry> {
        let mut pos = self.buckets[idx];
        std::iter::from_fn(move || {
            (pos != END).then(|| {
                let entry = self.at(pos);
                pos = entry.next;
                entry
            })
        })
    }

    /// Visits the entries of the bucket that `cursor` names and returns the next cursor (0 when
    /// the walk is complete). Cursor bits are reversed before incrementing, so buckets that split
    /// or merge on resize are visited exactly in the order that keeps the SCAN guarantee.
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&Entry)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        self.chain((cursor & mask) as usize).for_each(visit);
        let mut v = cursor | !mask;
        v = v.reverse_bits().wrapping_add(1).reverse_bits();
        v
    }

    /// Up to `n` entries (only those with a TTL when `volatile_only`) from consecutive buckets
    /// after a random one, as Redis's `dictGetSomeKeys`: cheap, and random enough for eviction.
    pub fn sample(
        &self,
        n: usize,
        volatile_only: bool,
        rng: &mut impl rand::Rng,
        mut f: impl FnMut(&Entry),
    ) {
        if self.len == 0 || n == 0 {
            return;
        }
        let buckets = self.buckets.len();
        let start = rng.gen_range(0..buckets);
        let mut taken = 0;
        // Enough buckets to find `n` keys in a sparse table, bounded for one with few TTLs.
        for step in 0..buckets.min(n.saturating_mul(20).max(64)) {
            for entry in self.chain((start + step) % buckets) {
                if !volatile_only || entry.has_ttl() {
                    f(entry);
                    taken += 1;
                    if taken == n {
                        return;
                    }
                }
            }
        }
    }

    /// A uniformly chosen entry: the slab is dense, so one draw is enough.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&Entry> {
        (self.len > 0).then(|| self.at(rng.gen_range(0..self.len) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn hash(k: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(7).hash_one(k)
    }

    fn add(d: &mut Dict, k: &[u8]) {
        d.insert_new(hash(k), Entry::new(k, Value::Int(0)), hash);
    }

    #[test]
    fn duplicate_copies_value_and_ttl_under_new_key() {
        let mut e = Entry::new(b"a", Value::string(b"v")).expiring_at(1234);
        e.access = 1;
        let copy = e.duplicate(b"b", 9);
        assert_eq!(copy.key(), b"b");
        assert!(copy.value() == e.value());
        assert_eq!((copy.expire_at(), copy.access), (1234, 9));
        assert_eq!(copy.next, END);
    }

    #[test]
    fn an_entry_is_44_bytes() {
        // What a key costs besides its bucket; a field that grows it shows here first.
        assert_eq!(std::mem::size_of::<Entry>(), 44);
    }

    /// Keys and values of the lengths where the layout changes, each with and without a TTL.
    fn samples() -> Vec<(Vec<u8>, Value)> {
        let mut out = Vec::new();
        for key_len in [0, 1, 16, 17, 18, 24, 25, 26, 33, 34, 100] {
            let key: Vec<u8> = (0..key_len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut values = vec![
                Value::Int(-7),
                Value::Int(i64::MAX),
                Value::Str(SmallBytes::new(b"0123")),
                Value::raw(b"raw".to_vec()),
                Value::List(Default::default()),
            ];
            for len in [0, 7, 8, 9, 16, 17, 22, 23, 100, 256, 1000] {
                values.push(Value::Str(SmallBytes::new(&vec![b'v'; len])));
            }
            out.extend(values.into_iter().map(|v| (key.clone(), v)));
        }
        out
    }

    #[test]
    fn every_layout_gives_back_what_it_was_given() {
        for (key, value) in samples() {
            for expire_at in [0, 1, u64::MAX] {
                let e = Entry::new(&key, value.clone()).expiring_at(expire_at);
                assert_eq!(e.key(), &key[..]);
                assert_eq!(*e.value(), value);
                assert_eq!(e.value().encoding(), value.encoding());
                assert_eq!((e.expire_at(), e.has_ttl()), (expire_at, expire_at != 0));
                let (k, v, at) = e.into_parts();
                assert_eq!((&*k, v, at), (&key[..], value.clone(), expire_at));
            }
        }
    }

    #[test]
    fn changes_in_place_keep_key_ttl_access_and_link() {
        let all = samples();
        for (key, value) in &all {
            for expire_at in [0, 5] {
                for (_, other) in all.iter().step_by(7) {
                    let mut e = Entry::new(key, value.clone()).expiring_at(expire_at);
                    e.access = 3;
                    e.next = 9;
                    assert_eq!(e.replace_value(other.clone()), *value);
                    assert_eq!((&*e.value(), e.expire_at()), (other, expire_at));
                    if let Value::Str(_) = e.value_mut() {
                        *e.value_mut() = Value::raw(b"x".to_vec());
                    }
                    e.set_expire_at(expire_at + 10);
                    assert_eq!(e.expire_at(), expire_at + 10);
                    e.set_expire_at(0);
                    assert!(!e.has_ttl() && !e.is_expired(u64::MAX));
                    assert_eq!((e.key(), e.access, e.next), (&key[..], 3, 9));
                    let renamed = e.renamed(b"other");
                    assert_eq!((renamed.key(), renamed.access), (&b"other"[..], 3));
                }
            }
        }
    }

    #[test]
    fn a_short_key_and_value_stay_packed_with_a_ttl_when_they_fit() {
        let e = Entry::new(b"key:000000000001", Value::string(b"0123456789abcdef"));
        assert_eq!(e.heap_size(), 0, "16 + 16 is packed");
        let e = e.expiring_at(1);
        assert_eq!(
            e.heap_size(),
            16,
            "16 + 16 + 8 is not: the string's own 16 bytes"
        );
        let e = Entry::new(b"key:000000000001", Value::Int(1)).expiring_at(1);
        assert_eq!(e.heap_size(), 0, "16 + 8 + 8 is");
        let long = Value::string(&[b'v'; 1000]);
        let e = Entry::new(b"key:000000000001", long.clone()).expiring_at(1);
        assert_eq!(
            e.heap_size(),
            1000,
            "a long string is kept by its own address"
        );
        assert_eq!(e.string(), Some(StringRef::Bytes(&[b'v'; 1000][..])));
        let huge = Value::string(&vec![b'v'; HEAP_STR_MAX + 1]);
        let e = Entry::new(b"k", huge.clone());
        assert_eq!(*e.value(), huge, "past 64 KiB a string is boxed");
    }

    #[test]
    fn an_expiry_comes_and_goes_with_the_value_kept() {
        let mut e = Entry::new(b"k", Value::string(b"v"));
        assert!(!e.has_ttl() && !e.is_expired(u64::MAX));
        e.set_expire_at(100);
        assert!(e.has_ttl() && !e.is_expired(99) && e.is_expired(100));
        assert_eq!(e.expire_at(), 100);
        e.set_expire_at(200);
        assert_eq!(e.replace_value(Value::Int(7)), Value::string(b"v"));
        assert_eq!(e.expire_at(), 200, "replacing the value keeps the TTL");
        e.set_expire_at(0);
        assert!(!e.has_ttl());
        assert_eq!(e.expire_at(), 0);
        assert_eq!(e.into_parts().1, Value::Int(7));
    }

    /// Every link and the slab agree: each position is reachable from exactly one bucket,
    /// the one its key hashes to.
    fn assert_consistent(d: &Dict) {
        let mut reached = vec![false; d.len()];
        for idx in 0..d.buckets.len() {
            let mut pos = d.buckets[idx];
            while pos != END {
                assert!(!std::mem::replace(&mut reached[pos as usize], true));
                assert_eq!(d.index(hash(d.at(pos).key())), idx);
                pos = d.at(pos).next;
            }
        }
        assert!(reached.iter().all(|&r| r));
        assert_eq!(d.iter().count(), d.len());
    }

    #[test]
    fn random_inserts_and_removals_keep_slab_and_chains_in_step() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(20);
        let mut d = Dict::default();
        let mut model = HashSet::new();
        for round in 0..20_000u32 {
            let k = rng.gen_range(0..3000u32).to_be_bytes();
            // Phases of growth and shrinkage, so chunks come and go.
            let grow = (round / 5000) % 2 == 0;
            if rng.gen_ratio(if grow { 3 } else { 1 }, 4) {
                if model.insert(k) {
                    add(&mut d, &k);
                }
            } else {
                assert_eq!(d.remove(hash(&k), &k, hash).is_some(), model.remove(&k));
            }
            if round % 997 == 0 {
                assert_consistent(&d);
            }
        }
        assert_consistent(&d);
        assert_eq!(d.len(), model.len());
        for k in &model {
            assert_eq!(d.get(hash(k), k).expect("present").key(), k);
        }
        assert!(d.slab.len() <= d.len().div_ceil(CHUNK).max(1));
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::default();
        for i in 0..1000u32 {
            add(&mut d, &i.to_be_bytes());
        }
        assert_eq!(d.len(), 1000);
        for i in 0..1000u32 {
            assert!(d.get(hash(&i.to_be_bytes()), &i.to_be_bytes()).is_some());
        }
        for i in 0..990u32 {
            assert!(d
                .remove(hash(&i.to_be_bytes()), &i.to_be_bytes(), hash)
                .is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets.len() <= 16, "table shrank: {}", d.buckets.len());
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_returns_every_stable_key_across_resizes() {
        let mut d = Dict::default();
        let stable: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("stable{i}").into_bytes())
            .collect();
        for k in &stable {
            add(&mut d, k);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = d.scan(cursor, |e| {
                seen.insert(e.key().to_vec());
            });
            // Grow and shrink the table while the scan is under way.
            step += 1;
            if step.is_multiple_of(3) {
                for j in 0..300u32 {
                    add(&mut d, format!("churn{step}-{j}").as_bytes());
                }
            } else if step % 3 == 1 {
                let churn: Vec<Vec<u8>> = d
                    .iter()
                    .filter(|e| e.key().starts_with(b"churn"))
                    .map(|e| e.key().to_vec())
                    .collect();
                for k in churn {
                    d.remove(hash(&k), &k, hash);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for k in &stable {
            assert!(seen.contains(k), "missing {:?}", String::from_utf8_lossy(k));
        }
    }
}
