//! Key names interned as numbers, in order of first appearance, for [`super::explicit`]'s
//! builder: keys of at most 15 bytes packed into an integer ([`pack`]) and looked up in a probing
//! table with a multiply-fold hash ([`ShortKeyIndex`]), longer ones in a SipHash map.

use std::hash::{BuildHasherDefault, DefaultHasher};

// A lookup-only map: it is never iterated (key numbers come from the order of first appearance in
// the file), so its order cannot reach an output; a hash map makes interning a million events'
// keys linear. The hasher (SipHash) has fixed keys, so no OS randomness in `sim`, and resists a
// file crafted to collide.
#[allow(clippy::disallowed_types)]
pub(super) type KeyIndex<K> = std::collections::HashMap<K, u32, BuildHasherDefault<DefaultHasher>>;

/// A key of at most 15 bytes as one integer: its bytes (the first lowest), and its length in the
/// top byte (so `"a"` and `"a\0"` differ).
pub(super) fn packed(key: &str) -> Option<u128> {
    let bytes = key.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut word = [0u8; 16];
    word[..bytes.len()].copy_from_slice(bytes);
    Some(pack(u128::from_le_bytes(word), bytes.len()))
}

/// The packed form of a key of `length` (at most 15) bytes, from 16 bytes of text starting with
/// it (as a little-endian integer): what follows the key is masked off. The scanner packs keys
/// from the word it has loaded; `packed` from a string.
#[inline(always)]
pub fn pack(word: u128, length: usize) -> u128 {
    debug_assert!(length <= 15);
    word & ((1u128 << (8 * length)) - 1) | (length as u128) << 120
}

/// [`pack`] for a key of at most 7 bytes, from the 8 bytes of text starting with it: the same
/// integer in 64-bit arithmetic.
#[inline(always)]
pub fn pack_within_word(word: u64, length: usize) -> u128 {
    debug_assert!(length <= 7);
    u128::from(word & ((1u64 << (8 * length)) - 1)) | (length as u128) << 120
}

/// The short keys' index: an open-addressing table with a multiply-fold hash (a few
/// nanoseconds, where SipHash took a fifth of the load). Such a hash can be made to collide by a
/// crafted file, so a probe longer than [`MAX_PROBES`] moves every key to SipHash for the rest of
/// the file: each lookup costs at most `MAX_PROBES` steps before that and SipHash's after it,
/// linear in the events whatever the keys.
pub(super) enum ShortKeyIndex {
    Fast(ProbeTable),
    Hardened(KeyIndex<u128>),
}

impl Default for ShortKeyIndex {
    fn default() -> Self {
        ShortKeyIndex::Fast(ProbeTable::with_slots(1 << 10))
    }
}

/// Probes a lookup may take in the fast table before the index moves to SipHash. Random keys at
/// the table's load (at most half full) rarely probe more than a dozen slots.
pub const MAX_PROBES: usize = 64;

impl ShortKeyIndex {
    /// The number of `key`, inserted as `next` if it is new.
    #[inline(always)]
    pub(super) fn get_or_insert(&mut self, key: u128, next: u32) -> u32 {
        // Most keys have been seen before: found without a call.
        if let ShortKeyIndex::Fast(table) = self {
            if let Some(k) = table.find(key) {
                return k;
            }
        }
        self.insert(key, next)
    }

    #[inline(never)]
    fn insert(&mut self, key: u128, next: u32) -> u32 {
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

/// Linear probing over a power-of-two number of slots, each the number of a key, whose packed
/// form is at that index in `keys`. A slot is 4 bytes: for 10^4 keys the slots take 128 KiB and
/// the keys 160 KiB, within a core's L2 cache, where slots holding the 16-byte keys and their
/// numbers took 640 KiB, and a lookup often missed it.
pub(super) struct ProbeTable {
    /// The number of the key in each slot, or [`FREE`].
    slots: Vec<u32>,
    /// Each key's packed form by number; [`NOT_HERE`] for a number the table does not hold (a
    /// long key's).
    keys: Vec<u128>,
    used: usize,
}

/// A slot without a key (key numbers are below: a file has fewer than 2^32 events).
const FREE: u32 = u32::MAX;
/// No packed key has 255 in its length byte.
const NOT_HERE: u128 = u128::MAX;

impl ProbeTable {
    fn with_slots(slots: usize) -> ProbeTable {
        ProbeTable { slots: vec![FREE; slots], keys: Vec::new(), used: 0 }
    }

    /// The number of `key` if the table holds it.
    #[inline(always)]
    fn find(&self, key: u128) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = spread(key) as usize & mask;
        for _ in 0..MAX_PROBES {
            let number = *self.slots.get(at)?;
            // `FREE` is beyond the keys.
            match self.keys.get(number as usize) {
                Some(&held) if held == key => return Some(number),
                Some(_) => at = (at + 1) & mask,
                None => return None,
            }
        }
        None
    }

    /// The number of `key`, inserted as `next` if new; `None` (nothing inserted) when the probe
    /// would exceed [`MAX_PROBES`].
    fn get_or_insert(&mut self, key: u128, next: u32) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = spread(key) as usize & mask;
        for _ in 0..MAX_PROBES {
            let number = self.slots[at];
            if number == FREE {
                return self.insert(at, key, next);
            }
            if self.keys[number as usize] == key {
                return Some(number);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// Puts `key` as `next` into the free slot `at` (growing the table first when it would be
    /// more than half full).
    #[inline(never)]
    fn insert(&mut self, at: usize, key: u128, next: u32) -> Option<u32> {
        if 2 * (self.used + 1) > self.slots.len() {
            *self = self.grown()?;
            return self.get_or_insert(key, next);
        }
        self.slots[at] = next;
        let number = next as usize;
        if self.keys.len() <= number {
            self.keys.resize(number + 1, NOT_HERE);
        }
        self.keys[number] = key;
        self.used += 1;
        Some(next)
    }

    /// The same keys in twice as many slots, or `None` if a key probes too long there.
    fn grown(&self) -> Option<ProbeTable> {
        let mut grown = ProbeTable::with_slots(2 * self.slots.len());
        let mask = grown.slots.len() - 1;
        for (number, key) in self.held() {
            let mut at = spread(key) as usize & mask;
            let mut probes = 1;
            while grown.slots[at] != FREE {
                probes += 1;
                if probes > MAX_PROBES {
                    return None;
                }
                at = (at + 1) & mask;
            }
            grown.slots[at] = number;
        }
        grown.keys.clone_from(&self.keys);
        grown.used = self.used;
        Some(grown)
    }

    /// The keys the table holds, with their numbers.
    fn held(&self) -> impl Iterator<Item = (u32, u128)> + '_ {
        (0..).zip(self.keys.iter().copied()).filter(|&(_, key)| key != NOT_HERE)
    }

    fn to_map(&self) -> KeyIndex<u128> {
        self.held().map(|(number, key)| (key, number)).collect()
    }
}

/// A 64-bit hash of a packed key: the two halves multiplied and the product's halves folded
/// (every bit of the key reaches the low bits that pick the slot).
#[inline(always)]
fn spread(key: u128) -> u64 {
    let product =
        u128::from(key as u64 ^ 0x243f_6a88_85a3_08d3) * u128::from((key >> 64) as u64 ^ 0x1319_8a2e_0370_7344);
    product as u64 ^ (product >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packing of the scanner's short keys is [`pack`]'s.
    #[test]
    fn packing_within_a_word_is_packing() {
        let text = *b"k2201\",value:731";
        let word = u128::from_le_bytes(text);
        for length in 0..=7 {
            assert_eq!(pack_within_word(word as u64, length), pack(word, length), "length {length}");
        }
        assert_eq!(Some(pack(word, 5)), packed("k2201"));
    }

    /// Keys crafted so the multiply-fold hash is the same for all (their low half cancels its
    /// constant, so the product is 0): the index moves to SipHash and still numbers every key.
    #[test]
    fn colliding_keys_move_the_index_to_siphash() {
        let key = |i: u64| u128::from(0x243f_6a88_85a3_08d3u64) | u128::from(i) << 64;
        assert_eq!(spread(key(1)), spread(key(2)));
        let mut index = ShortKeyIndex::default();
        for i in 0..1_000u64 {
            assert_eq!(index.get_or_insert(key(i), i as u32), i as u32);
        }
        assert!(index.is_hardened());
        for i in (0..1_000u64).rev() {
            assert_eq!(index.get_or_insert(key(i), 5_000), i as u32, "key {i} keeps its number");
        }
    }
}
