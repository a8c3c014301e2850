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
    key: &'a str,
    value: i64,
    ts_ms: i64,
    arrives_ms: i64,
    partition: u32,
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
        loop {
            self.trivia()?;
            match self.peek()? {
                b']' => break,
                b'(' => {
                    self.pos += 1;
                    let f = self.event()?;
                    builder.push(f.key, f.value, f.ts_ms, f.arrives_ms, f.partition);
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

    /// `field: value, ... )`, after the `(`; the position ends after the `)`.
    fn event(&mut self) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        let mut read = 0u8;
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
            match field {
                KEY => fields.key = self.string()?,
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
            self.trivia()?;
            match self.peek()? {
                b',' => self.pos += 1,
                b')' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        (read & REQUIRED == REQUIRED).then_some(fields)
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
        let length = self.bytes[start..].iter().position(|&b| b == b'"' || b == b'\\')?;
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
    #[inline]
    fn integer(&mut self) -> Option<i64> {
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
