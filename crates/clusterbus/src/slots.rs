//! The 16384-slot bitmap a node claims in every message header and an UPDATE carries: 2048
//! bytes, slot `n` at byte `n / 8`, bit `n % 8` counted from the least significant bit (a
//! node owning slots 0, 1 and 5 sends `0x23` as its first byte).

/// How many hash slots a cluster has.
pub const SLOT_COUNT: usize = 16384;

/// The bitmap's size on the wire.
pub const SLOT_BITMAP_LEN: usize = SLOT_COUNT / 8;

/// A set of slots in the wire's bit order.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap([u8; SLOT_BITMAP_LEN]);

impl SlotBitmap {
    /// No slots.
    pub fn new() -> SlotBitmap {
        SlotBitmap([0; SLOT_BITMAP_LEN])
    }

    /// The slots in `ranges` (inclusive bounds, each below [`SLOT_COUNT`]).
    pub fn from_ranges(ranges: &[(u16, u16)]) -> SlotBitmap {
        let mut bitmap = SlotBitmap::new();
        for &(first, last) in ranges {
            for slot in first..=last {
                bitmap.insert(slot);
            }
        }
        bitmap
    }

    /// The bitmap exactly as the wire carries it.
    pub fn from_bytes(bytes: [u8; SLOT_BITMAP_LEN]) -> SlotBitmap {
        SlotBitmap(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; SLOT_BITMAP_LEN] {
        &self.0
    }

    /// Whether `slot` is in the set; slots past the last one never are.
    pub fn contains(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        slot < SLOT_COUNT && self.0[slot / 8] & (1 << (slot % 8)) != 0
    }

    /// Adds `slot`. Panics when it is not a slot (`>= SLOT_COUNT`): callers hold checked slots.
    pub fn insert(&mut self, slot: u16) {
        let slot = usize::from(slot);
        self.0[slot / 8] |= 1 << (slot % 8);
    }

    /// Removes `slot`. Panics when it is not a slot (`>= SLOT_COUNT`).
    pub fn remove(&mut self, slot: u16) {
        let slot = usize::from(slot);
        self.0[slot / 8] &= !(1 << (slot % 8));
    }

    /// How many slots are set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The slots set, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOT_COUNT as u16).filter(|&slot| self.contains(slot))
    }

    /// The set as ascending runs of consecutive slots (inclusive bounds), the way CLUSTER
    /// NODES and CLUSTER SLOTS show ownership.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for slot in self.iter() {
            match ranges.last_mut() {
                Some((_, last)) if *last + 1 == slot => *last = slot,
                _ => ranges.push((slot, slot)),
            }
        }
        ranges
    }
}

impl Default for SlotBitmap {
    fn default() -> SlotBitmap {
        SlotBitmap::new()
    }
}

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SlotBitmap").field(&self.ranges()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_order_is_least_significant_first() {
        let bitmap = SlotBitmap::from_ranges(&[(0, 1), (5, 5), (16383, 16383)]);
        assert_eq!(bitmap.as_bytes()[0], 0x23);
        assert_eq!(bitmap.as_bytes()[SLOT_BITMAP_LEN - 1], 0x80);
        assert_eq!(bitmap.count(), 4);
        assert_eq!(bitmap.ranges(), vec![(0, 1), (5, 5), (16383, 16383)]);
        assert!(!bitmap.contains(2) && !bitmap.contains(u16::MAX));
    }

    #[test]
    fn insert_and_remove() {
        let mut bitmap = SlotBitmap::new();
        assert!(bitmap.is_empty());
        bitmap.insert(1000);
        assert!(bitmap.contains(1000));
        bitmap.remove(1000);
        assert!(bitmap.is_empty());
    }
}
