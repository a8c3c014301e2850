//! A fast reader for the explicit event list (`source: Events([...])`): a byte scanner over the
//! common spelling of events, so a million of them load in a fraction of a second (serde's RON
//! reader takes microseconds per event). The rest of the file is still read by serde.
//!
//! It reads a strict subset of what serde accepts and declines everything else (returns `None`):
//! the caller then parses the whole file with serde, which gives the same events or the error with
//! its `file:line:column` and field. So the scanner never has to report an error, and what it
//! accepts must mean exactly what serde reads from it (a differential test checks both readers on
//! generated lists). Accepted: events `( field: value, ... )` with the fields `key`, `value`,
//! `ts`, `arrives`, `partition` in any order, each at most once (`partition` optional); keys as
//! `"..."` without escapes; times as decimal integers or clock strings (`"12:04:59"`); integers
//! with `-` and `_` in range of their type; ASCII whitespace, `//` comments and trailing commas.

use std::ops::Range;

use super::explicit::{EventsBuilder, ExplicitEvents};
use super::format::parse_clock;
use super::keys::{pack, pack_within_word, PackedKey};
use super::words::*;

/// The events of the file's `source: Events([...])` list, and the byte range between its
/// brackets; `None` if the file has no such list or the scanner declines it.
pub fn read(text: &str) -> Option<(ExplicitEvents, Range<usize>)> {
    let list_start = list_start(text)?;
    let mut scanner = Scanner { text, bytes: text.as_bytes(), pos: list_start };
    let events = scanner.list()?;
    Some((events, list_start..scanner.pos - 1))
}

/// The offset just after the `[` of `source: Events([`, found by following the file's structure.
fn list_start(text: &str) -> Option<usize> {
    // Attributes (`#![enable(...)]`) can change how the list reads: leave such files to serde.
    if text.trim_start().starts_with('#') {
        return None;
    }
    let variant = super::positions::locate_exact(text, "source.Events")?;
    let mut scanner = Scanner { text, bytes: text.as_bytes(), pos: variant };
    scanner.expect_bytes(b"Events")?;
    scanner.trivia()?;
    scanner.expect_bytes(b"(")?;
    scanner.trivia()?;
    scanner.expect_bytes(b"[")?;
    Some(scanner.pos)
}

/// The fields of an event, as bits of the set already read.
const KEY: u8 = 1;
const VALUE: u8 = 2;
const TS: u8 = 4;
const ARRIVES: u8 = 8;
const PARTITION: u8 = 16;
const REQUIRED: u8 = KEY | VALUE | TS | ARRIVES;

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

/// One event's fields as read.
#[derive(Default)]
struct Fields<'a> {
    key: Key<'a>,
    value: i64,
    ts_ms: i64,
    arrives_ms: i64,
    partition: u32,
}

/// A key as read: packed from the text when it is short ([`pack`]), else its text.
enum Key<'a> {
    Short { packed: PackedKey, at: Range<usize> },
    Text(&'a str),
}

impl Default for Key<'_> {
    fn default() -> Self {
        Key::Text("")
    }
}

/// How an event is spelled: for each field in order, the text from the end of the value before
/// (or the `(`) to the start of its own value (separators, trivia, its name and `:`), and the
/// text from the last value through the `)` and on through the next event's `(`.
#[derive(Default)]
struct Spelling {
    parts: Vec<Literal>,
    /// Where the text after the last value starts (the `tail` is known once the next `(` is).
    tail_start: usize,
    tail: Literal,
}

/// A stretch of the text that an event must repeat, and the field whose value follows it.
#[derive(Clone, Default)]
struct Literal {
    bytes: Range<usize>,
    field: u8,
    /// Up to 16 bytes as a word and a mask (the bytes beyond the literal zero), compared
    /// without a call to memcmp; a longer literal is compared as a slice.
    word: u128,
    mask: u128,
    length: usize,
    long: bool,
}

impl Literal {
    fn new(text: &[u8], bytes: Range<usize>, field: u8) -> Literal {
        let (mut word, mut mask) = ([0u8; 16], [0u8; 16]);
        let short = bytes.len().min(16);
        word[..short].copy_from_slice(&text[bytes.start..bytes.start + short]);
        mask[..short].fill(0xff);
        let (length, long) = (bytes.len(), bytes.len() > 16);
        Literal { bytes, field, word: u128::from_le_bytes(word), mask: u128::from_le_bytes(mask), length, long }
    }

    /// Whether the text repeats the literal at `at`. `LONG`: whether the literal may be longer
    /// than 16 bytes (the caller knows when no literal of its spelling is).
    #[inline(always)]
    fn is_at<'b, const LONG: bool>(&self, text: impl Reads<'b>, at: usize) -> bool {
        debug_assert!(LONG || !self.long);
        let bytes = text.all();
        match text.double_word_at(at) {
            Some(chunk) => {
                chunk & self.mask == self.word
                    && (!(LONG && self.long) || bytes[at..].starts_with(&bytes[self.bytes.clone()]))
            }
            None => bytes.get(at..).is_some_and(|rest| rest.starts_with(&bytes[self.bytes.clone()])),
        }
    }
}

/// A spelling compiled for the fused reader: a step per field (the literal before its value,
/// and where its value goes), then the tail through the next `(`.
struct Fused {
    steps: [Literal; 5],
    /// Where each step's value lands in an event's values: its field's [`slot`].
    slots: [usize; 5],
    /// 4 or 5 (`partition` is optional, the others required).
    fields: usize,
    tail: Literal,
    /// Whether a literal is longer than 16 bytes (one field a line, say).
    long_literals: bool,
}

/// Where a field's value lands in an event's values: value 0, ts 1, arrives 2, partition 3 (0
/// when the spelling has none); the key has none (the step keeps it aside).
fn slot(field: u8) -> usize {
    (field.trailing_zeros() as usize).saturating_sub(1)
}

impl Fused {
    /// `None` until the spelling is whole (the list has gone on to a second event).
    fn of(spelling: &Spelling) -> Option<Fused> {
        let fields = spelling.parts.len();
        if !(4..=5).contains(&fields) || spelling.tail.bytes.is_empty() {
            return None;
        }
        let mut steps: [Literal; 5] = Default::default();
        let mut slots = [0; 5];
        for (i, literal) in spelling.parts.iter().enumerate() {
            steps[i] = literal.clone();
            slots[i] = slot(literal.field);
        }
        let long_literals = spelling.tail.long || spelling.parts.iter().any(|l| l.long);
        Some(Fused { steps, slots, fields, tail: spelling.tail.clone(), long_literals })
    }

    /// Reads events from `pos` (after a `(`) while each is spelled so, byte for byte outside its
    /// values, through the next event's `(`: the generic reader ([`Scanner::event`]) would take
    /// the same steps on those bytes, so only the values are read. Returns the position of the
    /// first event not read (after its `(`).
    #[inline(never)]
    fn read(&self, text: &str, mut pos: usize, builder: &mut EventsBuilder) -> usize {
        let bytes = text.as_bytes();
        loop {
            // All but the last few events lie within a window: read through it, most loads need
            // no check against the text's end (and, when every literal fits a word, no literal
            // is compared further).
            let read = match bytes.get(pos..).and_then(|rest| rest.first_chunk::<WINDOW_BYTES>()) {
                Some(window) if !self.long_literals => {
                    self.event::<false>(Window { all: bytes, window, start: pos }, text, pos)
                }
                _ => self.event::<true>(Whole(bytes), text, pos),
            };
            let Some((fields, end)) = read else {
                return pos;
            };
            pos = end;
            push(text, builder, fields);
        }
    }

    /// The event at `pos` (after its `(`) if it is spelled so, and the position after the next
    /// event's `(`.
    #[inline(always)]
    fn event<'b, 't, const LONG: bool>(
        &self,
        bytes: impl Reads<'b>,
        text: &'t str,
        pos: usize,
    ) -> Option<(Fields<'t>, usize)> {
        // Indexed by slot, masked to 4 (no bounds checks); a missing `partition` stays 0.
        let mut values = [0i64; 4];
        let mut key = Key::Text("");
        // The steps one after another, not in a loop: the loop's counting and the lookups by
        // step were a tenth of an event's instructions. An event has 4 or 5 fields.
        let mut pos = self.step::<LONG>(0, bytes, text, pos, &mut values, &mut key)?;
        pos = self.step::<LONG>(1, bytes, text, pos, &mut values, &mut key)?;
        pos = self.step::<LONG>(2, bytes, text, pos, &mut values, &mut key)?;
        pos = self.step::<LONG>(3, bytes, text, pos, &mut values, &mut key)?;
        if self.fields == 5 {
            pos = self.step::<LONG>(4, bytes, text, pos, &mut values, &mut key)?;
        }
        if !self.tail.is_at::<LONG>(bytes, pos) {
            return None;
        }
        pos += self.tail.length;
        let fields = Fields {
            key,
            value: values[slot(VALUE)],
            ts_ms: values[slot(TS)],
            arrives_ms: values[slot(ARRIVES)],
            // Read as a `u32`.
            partition: values[slot(PARTITION)] as u32,
        };
        Some((fields, pos))
    }

    /// Step `i` at `pos`: its literal, then its field's value, into `values` (or `key`); the
    /// position after the value.
    #[inline(always)]
    fn step<'b, 't, const LONG: bool>(
        &self,
        i: usize,
        bytes: impl Reads<'b>,
        text: &'t str,
        pos: usize,
        values: &mut [i64; 4],
        key: &mut Key<'t>,
    ) -> Option<usize> {
        let step = &self.steps[i];
        if !step.is_at::<LONG>(bytes, pos) {
            return None;
        }
        let pos = pos + step.length;
        if step.field == KEY {
            // The key's literal ends with its opening quote.
            let (read, end) = short_key(bytes, pos).or_else(|| other_key(text, pos - 1))?;
            *key = read;
            return Some(end);
        }
        let (value, end) = digits_before_literal(bytes, pos).or_else(|| other_integer(text, pos, step.field))?;
        values[self.slots[i] & 3] = value;
        Some(end)
    }
}

/// Appends an event as read.
#[inline(always)]
fn push(text: &str, builder: &mut EventsBuilder, f: Fields<'_>) {
    match f.key {
        Key::Short { packed, at } => {
            builder.push_short(packed, || &text[at], f.value, f.ts_ms, f.arrives_ms, f.partition)
        }
        Key::Text(key) => builder.push(key, f.value, f.ts_ms, f.arrives_ms, f.partition),
    }
}

/// A key of at most 15 bytes without escapes from `start` (after its opening `"`), packed from
/// the word there, and the position after its closing `"`; `None` for anything else.
#[inline(always)]
fn short_key<'a, 'b>(bytes: impl Reads<'b>, start: usize) -> Option<(Key<'a>, usize)> {
    let word = bytes.double_word_at(start)?;
    // Most keys end in the first half: 64-bit arithmetic, else the whole word. Lowest lanes
    // only (exact there): a backslash before the quote declines.
    let low = word as u64;
    let packed = match zero_lanes(low ^ QUOTES) {
        0 => {
            let quotes = zero_lanes_128(word ^ QUOTES_128);
            let backslashes = zero_lanes_128(word ^ BACKSLASHES_128);
            let length = quotes.trailing_zeros() as usize / 8;
            if length > 15 || backslashes.trailing_zeros() < quotes.trailing_zeros() {
                return None;
            }
            (PackedKey::DoubleWord(pack(word, length)), length)
        }
        quotes => {
            if zero_lanes(low ^ BACKSLASHES).trailing_zeros() < quotes.trailing_zeros() {
                return None;
            }
            let length = quotes.trailing_zeros() as usize / 8;
            (PackedKey::Word(pack_within_word(low, length)), length)
        }
    };
    let (packed, length) = packed;
    Some((Key::Short { packed, at: start..start + length }, start + length + 1))
}

/// A decimal integer of 1 to 7 digits at `at`, no sign and no leading zero, read from one
/// word, and the position after it; `None` for anything else. What follows the digits is not
/// checked: the caller matches the spelling's next literal there, which starts with what
/// followed a value when the spelling was taken (`,`, `)` or trivia, the generic reader
/// checked), never with what would continue a number (a digit, `_`, `.`, a letter).
#[inline(always)]
fn digits_before_literal<'b>(bytes: impl Reads<'b>, at: usize) -> Option<(i64, usize)> {
    let word = bytes.word_at(at)?;
    let digits = non_digit_lanes(word).trailing_zeros() as usize / 8;
    let leading_zero = word as u8 == b'0' && digits > 1;
    if digits == 0 || digits == 8 || leading_zero {
        return None;
    }
    // Most numbers in a file have at most four digits: half the arithmetic.
    let value = if digits <= 4 { u64::from(short_lanes_value(word as u32, digits)) } else { lanes_value(word, digits) };
    Some((value as i64, at + digits))
}

/// A key [`short_key`] leaves (a long one), at its opening `"`, as the generic reader reads it.
#[inline(never)]
fn other_key(text: &str, at: usize) -> Option<(Key<'_>, usize)> {
    let mut scanner = Scanner { text, bytes: text.as_bytes(), pos: at };
    let key = scanner.string()?;
    Some((Key::Text(key), scanner.pos))
}

/// An integer or time [`digits_before_literal`] leaves (a sign, more digits, a clock string),
/// as the generic reader reads it.
#[inline(never)]
fn other_integer(text: &str, at: usize, field: u8) -> Option<(i64, usize)> {
    let mut scanner = Scanner { text, bytes: text.as_bytes(), pos: at };
    let mut fields = Fields::default();
    scanner.field_value(field, &mut fields)?;
    let value = match field {
        VALUE => fields.value,
        TS => fields.ts_ms,
        ARRIVES => fields.arrives_ms,
        _ => i64::from(fields.partition),
    };
    Some((value, scanner.pos))
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect_bytes(&mut self, expected: &[u8]) -> Option<()> {
        if self.bytes[self.pos..].starts_with(expected) {
            self.pos += expected.len();
            Some(())
        } else {
            None
        }
    }

    #[inline(always)]
    fn expect_byte(&mut self, expected: u8) -> Option<()> {
        if self.peek()? != expected {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    /// Skips ASCII whitespace and `//` comments; declines a block comment (they nest in RON).
    #[inline(always)]
    fn trivia(&mut self) -> Option<()> {
        // Most calls find a token at once.
        match self.peek() {
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'/') => self.skip_trivia(),
            _ => Some(()),
        }
    }

    fn skip_trivia(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => {
                    if self.bytes.get(self.pos + 1) != Some(&b'/') {
                        return None;
                    }
                    self.pos = match self.bytes[self.pos..].iter().position(|&b| b == b'\n') {
                        Some(length) => self.pos + length,
                        None => self.bytes.len(),
                    };
                }
                _ => return Some(()),
            }
        }
    }

    /// `( event ), ... ]`, after the `[`; the position ends after the `]`.
    fn list(&mut self) -> Option<ExplicitEvents> {
        // An event takes at least 30 bytes as written: a capacity that is rarely regrown.
        let mut builder = EventsBuilder::with_capacity((self.bytes.len() - self.pos) / 32);
        let mut spelling = Spelling::default();
        let mut after_event = false;
        loop {
            self.trivia()?;
            match self.peek()? {
                b']' => break,
                b'(' => {
                    self.pos += 1;
                    if after_event {
                        spelling.tail = Literal::new(self.bytes, spelling.tail_start..self.pos, 0);
                    }
                    self.events_as_spelled(&spelling, &mut builder);
                    spelling.parts.clear();
                    let f = self.event(&mut spelling)?;
                    push(self.text, &mut builder, f);
                    after_event = true;
                }
                _ => return None,
            }
            self.trivia()?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        Some(builder.finish())
    }

    /// The events from here (after a `(`) that are spelled as `spelling` says (see [`Fused`]);
    /// the position ends after the last one's following `(`, at the first event spelled
    /// otherwise (or the list's last), which the caller reads.
    fn events_as_spelled(&mut self, spelling: &Spelling, builder: &mut EventsBuilder) {
        if let Some(fused) = Fused::of(spelling) {
            self.pos = fused.read(self.text, self.pos, builder);
        }
    }

    /// `field: value, ... )`, after the `(`; the position ends after the `)`. Notes how the event
    /// is spelled in `spelling` (empty on entry).
    fn event(&mut self, spelling: &mut Spelling) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        let mut read = 0u8;
        let mut literal_start = self.pos;
        loop {
            self.trivia()?;
            if self.peek()? == b')' {
                break;
            }
            let field = self.field_name()?;
            if read & field != 0 {
                return None;
            }
            read |= field;
            self.trivia()?;
            self.expect_byte(b':')?;
            self.trivia()?;
            // A key's literal takes its opening quote (there is one if the event reads at all).
            let value_start = if field == KEY && self.peek() == Some(b'"') { self.pos + 1 } else { self.pos };
            spelling.parts.push(Literal::new(self.bytes, literal_start..value_start, field));
            self.field_value(field, &mut fields)?;
            literal_start = self.pos;
            self.trivia()?;
            match self.peek()? {
                b',' => self.pos += 1,
                b')' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        spelling.tail_start = literal_start;
        (read & REQUIRED == REQUIRED).then_some(fields)
    }

    /// The value of `field`, after its `:` and trivia.
    #[inline(always)]
    fn field_value(&mut self, field: u8, fields: &mut Fields<'a>) -> Option<()> {
        match field {
            KEY => fields.key = Key::Text(self.string()?),
            VALUE => fields.value = self.integer()?,
            TS => fields.ts_ms = self.time()?,
            ARRIVES => fields.arrives_ms = self.time()?,
            _ => {
                // `u32` reads no sign at all (not even `-0`).
                if self.peek()? == b'-' {
                    return None;
                }
                fields.partition = u32::try_from(self.integer()?).ok()?;
            }
        }
        Some(())
    }

    /// One of the five field names (and not a longer identifier starting with one).
    fn field_name(&mut self) -> Option<u8> {
        // Byte patterns, not string comparisons: this runs five times per event.
        let (field, length) = match self.bytes[self.pos..] {
            [b'k', b'e', b'y', ..] => (KEY, 3),
            [b'v', b'a', b'l', b'u', b'e', ..] => (VALUE, 5),
            [b't', b's', ..] => (TS, 2),
            [b'a', b'r', b'r', b'i', b'v', b'e', b's', ..] => (ARRIVES, 7),
            [b'p', b'a', b'r', b't', b'i', b't', b'i', b'o', b'n', ..] => (PARTITION, 9),
            _ => return None,
        };
        self.pos += length;
        match self.peek() {
            Some(b) if b.is_ascii_alphanumeric() || b == b'_' => None,
            _ => Some(field),
        }
    }

    /// `"..."` without escapes (a backslash declines).
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.expect_byte(b'"')?;
        let start = self.pos;
        let length = quote_or_backslash(self.bytes, start)?;
        self.pos = start + length;
        self.expect_byte(b'"')?;
        // The quotes are ASCII, so the range lies on character boundaries.
        Some(&self.text[start..start + length])
    }

    /// Milliseconds as an integer or a clock string.
    #[inline]
    fn time(&mut self) -> Option<i64> {
        if self.peek()? == b'"' {
            return parse_clock(self.string()?);
        }
        self.integer()
    }

    /// A decimal integer within `i64`: `-`, digits and `_` (not first), no leading zero, no
    /// suffix; anything else (`+`, `0x`, `1.0`, `1e3`) declines.
    #[inline(always)]
    fn integer(&mut self) -> Option<i64> {
        // Most numbers in a file: up to 7 digits and what follows them, all in one word.
        if let Some(word) = word_at(self.bytes, self.pos) {
            let digits = non_digit_lanes(word).trailing_zeros() as usize / 8;
            if (1..8).contains(&digits) {
                let next = (word >> (8 * digits)) as u8;
                let leading_zero = word as u8 == b'0' && digits > 1;
                if !(leading_zero || next.is_ascii_alphanumeric() || next == b'.' || next == b'_') {
                    self.pos += digits;
                    return Some(lanes_value(word, digits) as i64);
                }
            }
        }
        self.long_integer()
    }

    /// [`Scanner::integer`] for what its one-word case leaves: a sign, 8 to 15 digits a word at a
    /// time, and anything else byte by byte.
    #[inline(never)]
    fn long_integer(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        let digits_start = self.pos + usize::from(negative);
        let Some((magnitude, digits)) = digit_run(self.bytes, digits_start) else {
            return self.integer_bytewise();
        };
        let end = digits_start + digits;
        if self.bytes[digits_start] == b'0' && digits > 1 {
            return None;
        }
        if self.bytes.get(end).is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_') {
            return None;
        }
        self.pos = end;
        // At most 15 digits: within `i64` either way.
        let magnitude = magnitude as i64;
        Some(if negative { -magnitude } else { magnitude })
    }

    /// [`Scanner::integer`] a byte at a time (digit groups with `_`, long numbers, the file's end).
    fn integer_bytewise(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut magnitude: u64 = 0;
        let mut digits = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => {
                    magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                    digits += 1;
                }
                b'_' => {}
                _ => break,
            }
            self.pos += 1;
        }
        if first == b'0' && digits > 1 {
            return None;
        }
        if self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_') {
            return None;
        }
        if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        }
    }
}
