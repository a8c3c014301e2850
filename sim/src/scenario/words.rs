//! Word-at-a-time reading for the explicit event list's scanner ([`super::event_list`]).
//!
//! Eight bytes of the text as a little-endian `u64` (the first byte lowest), tested in all lanes
//! at once (SWAR; the workspace has no `unsafe`, so no SIMD); and the two ways the fused reader
//! loads them ([`Whole`], [`Window`]).

/// A byte value in every lane.
pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every lane.
pub(super) const HIGHS: u64 = 0x8080_8080_8080_8080;
pub(super) const ONES_128: u128 = u128::from_le_bytes([1; 16]);
pub(super) const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
pub(super) const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
pub(super) const QUOTES_128: u128 = u128::from_le_bytes([b'"'; 16]);
pub(super) const BACKSLASHES_128: u128 = u128::from_le_bytes([b'\\'; 16]);

/// The eight bytes at `at`, if the text has them.
#[inline(always)]
pub(super) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    // `get(at..)` then the first chunk: two comparisons, where `get(at..at + 8)` also checks
    // `at + 8` for overflow.
    Some(u64::from_le_bytes(*bytes.get(at..)?.first_chunk::<8>()?))
}

/// The sixteen bytes at `at`, if the text has them, as [`word_at`] reads eight.
#[inline(always)]
pub(super) fn double_word_at(bytes: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_le_bytes(*bytes.get(at..)?.first_chunk::<16>()?))
}

/// How the fused reader loads the text: [`Whole`] checks each load against the text's end,
/// [`Window`] only against a fixed stretch of it, known to be there. Both load the same bytes; a
/// load the window cannot serve is `None`, as at the text's end, and the reader then takes its
/// general path over the whole text ([`Reads::all`]), so the result is the same either way.
pub(super) trait Reads<'b>: Copy {
    /// The whole text.
    fn all(self) -> &'b [u8];
    /// The eight bytes at `at`, as [`word_at`].
    fn word_at(self, at: usize) -> Option<u64>;
    /// The sixteen bytes at `at`, as [`double_word_at`].
    fn double_word_at(self, at: usize) -> Option<u128>;
}

#[derive(Clone, Copy)]
pub(super) struct Whole<'b>(pub(super) &'b [u8]);

impl<'b> Reads<'b> for Whole<'b> {
    fn all(self) -> &'b [u8] {
        self.0
    }

    #[inline(always)]
    fn word_at(self, at: usize) -> Option<u64> {
        word_at(self.0, at)
    }

    #[inline(always)]
    fn double_word_at(self, at: usize) -> Option<u128> {
        double_word_at(self.0, at)
    }
}

/// Where a load may start in a [`Window`], from its start: an event the fused reader reads
/// quickly ends within 141 bytes (six literals of at most 16 bytes, four numbers of at most 7
/// digits and a key of at most 17 bytes quoted).
pub(super) const WINDOW_REACH: usize = 256;
/// A window's length: a load of 16 bytes at its reach fits.
pub(super) const WINDOW_BYTES: usize = WINDOW_REACH + 16;

/// The text as a fixed-size stretch starting at `start` (the event's), and the whole text.
#[derive(Clone, Copy)]
pub(super) struct Window<'b> {
    pub(super) all: &'b [u8],
    pub(super) window: &'b [u8; WINDOW_BYTES],
    pub(super) start: usize,
}

impl<'b> Window<'b> {
    /// The window from `at` on, when a load may start there.
    #[inline(always)]
    fn from(self, at: usize) -> Option<&'b [u8]> {
        let offset = at.wrapping_sub(self.start);
        // Within the reach, the slice holds at least 16 bytes: the compiler drops the loads' checks.
        (offset < WINDOW_REACH).then(|| &self.window[offset % WINDOW_REACH..])
    }
}

impl<'b> Reads<'b> for Window<'b> {
    fn all(self) -> &'b [u8] {
        self.all
    }

    #[inline(always)]
    fn word_at(self, at: usize) -> Option<u64> {
        word_at(self.from(at)?, 0)
    }

    #[inline(always)]
    fn double_word_at(self, at: usize) -> Option<u128> {
        double_word_at(self.from(at)?, 0)
    }
}

/// The high bit of each lane of `word` that is zero. Exact for the lowest such lane (a borrow
/// can only mark lanes above a zero one), which is all the callers use.
#[inline(always)]
pub(super) fn zero_lanes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// [`zero_lanes`] over sixteen lanes.
#[inline(always)]
pub(super) fn zero_lanes_128(word: u128) -> u128 {
    word.wrapping_sub(ONES_128) & !word & (ONES_128 << 7)
}

/// The high bit of each lane of `word` that is not an ASCII digit. Exact for the lowest such
/// lane, which is all the callers use (0 exactly when all eight are digits).
#[inline(always)]
pub(super) fn non_digit_lanes(word: u64) -> u64 {
    // A digit's lane becomes its value (0 ..= 9), any other byte something else. Adding 0x76
    // sets the high bit of a lane above 9; a lane of 0x8a or more carries into the lanes above
    // it, but has its own high bit set already.
    let values = digit_values(word);
    (values.wrapping_add(0x76 * ONES) | values) & HIGHS
}

/// Each lane of `word` less `b'0'` (by xor): a digit's lane holds its value.
#[inline(always)]
pub(super) fn digit_values(word: u64) -> u64 {
    word ^ (u64::from(b'0') * ONES)
}

/// The number the first `n` (1 ..= 8) lanes of `word` spell, all ASCII digits, the first the
/// most significant.
#[inline(always)]
pub(super) fn lanes_value(word: u64, n: usize) -> u64 {
    // The digits' values moved to the top lanes (what follows them shifted out, the lanes below
    // zero), then combined pairwise: 8 one-digit lanes, 4 of two digits, 2 of four, one of eight.
    // One multiplication combines every pair: a lane plus the lane below it (the more significant
    // digits) times the base lands in the lane, which the shift moves down; no sum carries out of
    // its lane (99, 9 999, 99 999 999), and the mask drops the odd lanes' leftovers.
    let v = digit_values(word) << (8 * (8 - n));
    let v = (v.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    v.wrapping_mul(10_000 << 32 | 1) >> 32
}

/// [`lanes_value`] for `n` (1 ..= 4) digits, in the four lanes of a `u32`.
#[inline(always)]
pub(super) fn short_lanes_value(word: u32, n: usize) -> u32 {
    let v = (word ^ u32::from_le_bytes([b'0'; 4])) << (8 * (4 - n));
    let v = (v.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff;
    v.wrapping_mul(100 << 16 | 1) >> 16
}

/// The value and length of the run of 1 ..= 15 ASCII digits at `at`, when the text has 16 bytes
/// there and no `_` follows the run; `None` otherwise (the caller reads byte by byte).
#[inline(always)]
pub(super) fn digit_run(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let first = word_at(bytes, at)?;
    let second = word_at(bytes, at + 8)?;
    let (value, digits) = match non_digit_lanes(first) {
        0 => match non_digit_lanes(second) {
            0 => return None,
            ends => {
                let more = ends.trailing_zeros() as usize / 8;
                let tail = if more == 0 { 0 } else { lanes_value(second, more) };
                (lanes_value(first, 8) * 10u64.pow(more as u32) + tail, 8 + more)
            }
        },
        ends => {
            let digits = ends.trailing_zeros() as usize / 8;
            if digits == 0 {
                return None;
            }
            (lanes_value(first, digits), digits)
        }
    };
    (bytes[at + digits] != b'_').then_some((value, digits))
}

/// The offset from `start` of the first `"` or `\\`.
#[inline(always)]
pub(super) fn quote_or_backslash(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    while let Some(word) = word_at(bytes, at) {
        let found = zero_lanes(word ^ QUOTES) | zero_lanes(word ^ BACKSLASHES);
        if found != 0 {
            return Some(at - start + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == b'"' || b == b'\\').map(|i| at - start + i)
}
