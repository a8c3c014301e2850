//! Key names interned as numbers, in order of first appearance, for [`super::explicit`]'s
//! builder: keys of at most 15 bytes packed into an integer ([`PackedKey`]) and looked up in a
//! probing table with a multiply-fold hash ([`ShortKeyIndex`], one for each size), longer ones in
//! a SipHash map.

use std::hash::{BuildHasherDefault, DefaultHasher};

// A lookup-only map: it is never iterated (key numbers come from the order of first appearance in
// the file), so its order cannot reach an output; a hash map makes interning a million events'
// keys linear. The hasher (SipHash) has fixed keys, so no OS randomness in `sim`, and resists a
// file crafted to collide.
#[allow(clippy::disallowed_types)]
pub(super) type KeyIndex<K> = std::collections::HashMap<K, u32, BuildHasherDefault<DefaultHasher>>;

/// A key of at most 15 bytes as one integer: its bytes (the first lowest) and its length in the
/// top byte (so `"a"` and `"a\0"` differ); a key of at most 7 bytes in a `u64`
/// ([`pack_within_word`]), a longer one in a `u128` ([`pack`]). Each size has its own index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackedKey {
    Word(u64),
    DoubleWord(u128),
}

/// The packed form of `key`, if it has at most 15 bytes.
pub(super) fn packed(key: &str) -> Option<PackedKey> {
    let bytes = key.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut word = [0u8; 16];
    word[..bytes.len()].copy_from_slice(bytes);
    let word = u128::from_le_bytes(word);
    Some(match bytes.len() {
        0..=7 => PackedKey::Word(pack_within_word(word as u64, bytes.len())),
        length => PackedKey::DoubleWord(pack(word, length)),
    })
}

/// The packed form of a key of `length` (8 to 15) bytes, from 16 bytes of text starting with it
/// (as a little-endian integer): what follows the key is masked off. The scanner packs keys from
/// the word it has loaded; [`packed`] from a string.
#[inline(always)]
pub fn pack(word: u128, length: usize) -> u128 {
    debug_assert!((8..=15).contains(&length));
    word & ((1u128 << (8 * length)) - 1) | (length as u128) << 120
}

/// The packed form of a key of at most 7 bytes, from the 8 bytes of text starting with it.
#[inline(always)]
pub fn pack_within_word(word: u64, length: usize) -> u64 {
    debug_assert!(length <= 7);
    word & ((1u64 << (8 * length)) - 1) | (length as u64) << 56
}

/// A packed key as the index holds it.
pub(super) trait Packed: Copy + Eq + std::hash::Hash {
    /// No key packs to this (255 in its length byte): a free slot.
    const FREE: Self;
    /// A 64-bit hash: a multiplication, the product's halves folded (every bit of the key
    /// reaches the low bits that pick the slot).
    fn spread(self) -> u64;
}

impl Packed for u64 {
    const FREE: u64 = u64::MAX;

    #[inline(always)]
    fn spread(self) -> u64 {
        let product = u128::from(self ^ 0x243f_6a88_85a3_08d3) * u128::from(0x1319_8a2e_0370_7344u64);
        product as u64 ^ (product >> 64) as u64
    }
}

impl Packed for u128 {
    const FREE: u128 = u128::MAX;

    /// The two halves multiplied.
    #[inline(always)]
    fn spread(self) -> u64 {
        let product =
            u128::from(self as u64 ^ 0x243f_6a88_85a3_08d3) * u128::from((self >> 64) as u64 ^ 0x1319_8a2e_0370_7344);
        product as u64 ^ (product >> 64) as u64
    }
}

/// The index of the short keys of one size: an open-addressing table with a multiply-fold hash
/// (a few nanoseconds, where SipHash took a fifth of the load). Such a hash can be made to
/// collide by a crafted file, so a probe longer than [`MAX_PROBES`] moves every key to SipHash
/// for the rest of the file: each lookup costs at most `MAX_PROBES` steps before that and
/// SipHash's after it, linear in the events whatever the keys.
pub(super) enum ShortKeyIndex<K> {
    Fast(ProbeTable<K>),
    Hardened(KeyIndex<K>),
}

impl<K: Packed> Default for ShortKeyIndex<K> {
    fn default() -> Self {
        ShortKeyIndex::Fast(ProbeTable::with_slots(1 << 10))
    }
}

/// Probes a lookup may take in the fast table before the index moves to SipHash. Random keys at
/// the table's load (at most half full) rarely probe more than a dozen slots.
pub const MAX_PROBES: usize = 64;

impl<K: Packed> ShortKeyIndex<K> {
    /// The number of `key`, inserted as `next` if it is new.
    #[inline(always)]
    pub(super) fn get_or_insert(&mut self, key: K, next: u32) -> u32 {
        // Most keys have been seen before: found without a call.
        if let ShortKeyIndex::Fast(table) = self {
            if let Some(k) = table.find(key) {
                return k;
            }
        }
        self.insert(key, next)
    }

    #[inline(never)]
    fn insert(&mut self, key: K, next: u32) -> u32 {
        match self {
            ShortKeyIndex::Hardened(map) => *map.entry(key).or_insert(next),
            ShortKeyIndex::Fast(table) => match table.get_or_insert(key, next) {
                Some(k) => k,
                None => {
                    let mut map = table.to_map();
                    let k = *map.entry(key).or_insert(next);
                    *self = ShortKeyIndex::Hardened(map);
                    k
                }
            },
        }
    }

    /// Whether a probe grew too long and the keys moved to SipHash.
    pub fn is_hardened(&self) -> bool {
        matches!(self, ShortKeyIndex::Hardened(_))
    }
}

/// Linear probing over a power-of-two number of slots, each a key and its number. A lookup
/// reads one slot (a cache line) for most keys: where the slots held numbers and the keys sat in
/// a second array by number, each lookup waited on two loads one after the other, a quarter of
/// the load's time.
pub(super) struct ProbeTable<K> {
    slots: Vec<Slot<K>>,
    used: usize,
}

#[derive(Clone, Copy)]
struct Slot<K> {
    /// [`Packed::FREE`] in a slot without a key.
    key: K,
    number: u32,
}

impl<K: Packed> ProbeTable<K> {
    fn with_slots(slots: usize) -> ProbeTable<K> {
        ProbeTable { slots: vec![Slot { key: K::FREE, number: 0 }; slots], used: 0 }
    }

    /// The number of `key` if the table holds it.
    #[inline(always)]
    fn find(&self, key: K) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = key.spread() as usize & mask;
        for _ in 0..MAX_PROBES {
            let slot = self.slots.get(at)?;
            if slot.key == key {
                return Some(slot.number);
            }
            if slot.key == K::FREE {
                return None;
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The number of `key`, inserted as `next` if new; `None` (nothing inserted) when the probe
    /// would exceed [`MAX_PROBES`].
    fn get_or_insert(&mut self, key: K, next: u32) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = key.spread() as usize & mask;
        for _ in 0..MAX_PROBES {
            let slot = self.slots[at];
            if slot.key == K::FREE {
                return self.insert(at, key, next);
            }
            if slot.key == key {
                return Some(slot.number);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// Puts `key` as `next` into the free slot `at` (growing the table first when it would be
    /// more than half full).
    #[inline(never)]
    fn insert(&mut self, at: usize, key: K, next: u32) -> Option<u32> {
        if 2 * (self.used + 1) > self.slots.len() {
            *self = self.grown()?;
            return self.get_or_insert(key, next);
        }
        self.slots[at] = Slot { key, number: next };
        self.used += 1;
        Some(next)
    }

    /// The same keys in twice as many slots, or `None` if a key probes too long there.
    fn grown(&self) -> Option<ProbeTable<K>> {
        let mut grown = ProbeTable::with_slots(2 * self.slots.len());
        let mask = grown.slots.len() - 1;
        for slot in self.held() {
            let mut at = slot.key.spread() as usize & mask;
            let mut probes = 1;
            while grown.slots[at].key != K::FREE {
                probes += 1;
                if probes > MAX_PROBES {
                    return None;
                }
                at = (at + 1) & mask;
            }
            grown.slots[at] = slot;
        }
        grown.used = self.used;
        Some(grown)
    }

    /// The slots holding a key.
    fn held(&self) -> impl Iterator<Item = Slot<K>> + '_ {
        self.slots.iter().copied().filter(|slot| slot.key != K::FREE)
    }

    fn to_map(&self) -> KeyIndex<K> {
        self.held().map(|slot| (slot.key, slot.number)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner packs a key from the words it loaded as [`packed`] packs its text: the bytes
    /// after the key do not count, its length does.
    #[test]
    fn the_scanner_packs_keys_as_packed_does() {
        let text = *b"k2201\",value:731";
        let word = u128::from_le_bytes(text);
        assert_eq!(packed("k2201"), Some(PackedKey::Word(pack_within_word(word as u64, 5))));
        let text = *b"sensor-0042\",val";
        let word = u128::from_le_bytes(text);
        assert_eq!(packed("sensor-0042"), Some(PackedKey::DoubleWord(pack(word, 11))));
        assert_ne!(packed("a"), packed("a\0"));
        assert_ne!(packed("abcdefgh"), packed("abcdefgh\0"));
        assert_eq!(packed("sixteen-bytes-ab"), None);
    }

    /// Keys crafted so the multiply-fold hash is the same for all (their low half cancels its
    /// constant, so the product is 0): the index moves to SipHash and still numbers every key.
    #[test]
    fn colliding_keys_move_the_index_to_siphash() {
        let key = |i: u64| u128::from(0x243f_6a88_85a3_08d3u64) | u128::from(i) << 64;
        assert_eq!(key(1).spread(), key(2).spread());
        numbers_survive_hardening((0..1_000u64).map(key).collect());
    }

    /// The same for keys of at most 7 bytes, found by search: their hashes agree in the 16 bits
    /// that pick a slot in any table up to 2^16 slots.
    #[test]
    fn colliding_word_keys_move_the_index_to_siphash() {
        let target = 7u64.spread() & 0xffff;
        let colliding: Vec<u64> = (0..).filter(|&k: &u64| k.spread() & 0xffff == target).take(200).collect();
        numbers_survive_hardening(colliding);
    }

    /// Inserts `keys` (all distinct, colliding), numbered in order: the index hardens, and each
    /// key keeps its number.
    fn numbers_survive_hardening<K: Packed + std::fmt::Debug>(keys: Vec<K>) {
        let mut index = ShortKeyIndex::default();
        for (number, &key) in (0..).zip(&keys) {
            assert_eq!(index.get_or_insert(key, number), number);
        }
        assert!(index.is_hardened());
        for (number, &key) in keys.iter().enumerate().rev() {
            assert_eq!(index.get_or_insert(key, 5_000), number as u32, "key {key:?} keeps its number");
        }
    }
}
