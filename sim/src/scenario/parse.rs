//! Reading a scenario file: refuse what is not a regular file or is too large before reading it,
//! name the position of invalid UTF-8, and parse RON with spans and a nesting limit, so every
//! error has a line and column.

use std::io::Read as _;
use std::path::Path;

use super::error::ScenarioError;
use super::format::{ScenarioFile, SourceData};
use super::limits::{MAX_FILE_BYTES, MAX_NESTING};

/// The text of a scenario file: a regular file (FIFOs, devices and directories are refused by
/// type, before anything is read) of at most [`MAX_FILE_BYTES`], in UTF-8.
pub fn read_file(path: &Path, file: &str) -> Result<String, ScenarioError> {
    let io = |message: String| ScenarioError::Io { file: super::error::printable(file), message };
    let check_type = |meta: &std::fs::Metadata| -> Result<(), ScenarioError> {
        let kind = meta.file_type();
        if kind.is_dir() {
            return Err(io("is a directory; a scenario is a regular .ron file".into()));
        }
        if !kind.is_file() {
            return Err(io(
                "is not a regular file (a FIFO, socket or device); a scenario is a regular .ron file".into()
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(io(format!(
                "is {} bytes; scenario files are limited to {MAX_FILE_BYTES} bytes ({} MiB)",
                meta.len(),
                MAX_FILE_BYTES >> 20
            )));
        }
        Ok(())
    };
    // By type before opening: opening a FIFO for reading blocks until someone writes.
    check_type(&std::fs::metadata(path).map_err(|e| io(e.to_string()))?)?;
    let handle = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
    // Again on what was opened, in case the path changed in between.
    check_type(&handle.metadata().map_err(|e| io(e.to_string()))?)?;
    let mut bytes = Vec::new();
    handle.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| io(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io(format!("grew beyond {MAX_FILE_BYTES} bytes while being read")));
    }
    text_of(bytes, file)
}

/// Bytes as UTF-8, or an error at the first invalid byte.
pub fn text_of(mut bytes: Vec<u8>, file: &str) -> Result<String, ScenarioError> {
    // A UTF-8 byte order mark (editors on Windows write one) is not part of the scenario; lines
    // and columns are counted without it, as an editor shows them.
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
        ScenarioError::at_offset(
            file,
            valid,
            offset,
            "(file)",
            &format!("not UTF-8: invalid byte 0x{:02x} at byte offset {offset}", bytes[offset]),
        )
    })
}

/// The byte offset of (line, column), both 1-based (the column counted in bytes, as ron's spans
/// are on the ASCII text around a value).
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        .checked_add(column.saturating_sub(1))
}

/// The first non-whitespace position at or after (line, column), both 1-based.
fn skip_whitespace(text: &str, line: usize, column: usize) -> (usize, usize) {
    let (mut line, mut column) = (line, column);
    let Some(start) = offset_of(text, line, column) else {
        return (line, column);
    };
    for c in text.get(start..).unwrap_or("").chars() {
        match c {
            '\n' => {
                line += 1;
                column = 1;
            }
            c if c.is_whitespace() => column += 1,
            _ => break,
        }
    }
    (line, column)
}

/// The integer literal at `offset` as the file spells it (`-1`, `4294967296`, `0xff`): ron's span
/// for an integer out of bounds may start at its sign or after it (and after a base prefix).
fn integer_at(text: &str, offset: usize) -> &str {
    let part_of_number = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let Some((before, _)) = text.split_at_checked(offset) else {
        return "the number";
    };
    let start = before.trim_end_matches(part_of_number).trim_end_matches(['-', '+']).len();
    let literal = &text[start..];
    let sign = usize::from(literal.starts_with(['-', '+']));
    let end = literal[sign..].find(|c: char| !part_of_number(c)).map_or(literal.len(), |n| n + sign);
    &literal[..end]
}

/// A plain message for a RON error at `field`, `offset` bytes into `text`: ron's own text for
/// recursion advises on its API, and for an integer out of bounds names no range.
fn message(code: &ron::Error, field: &str, text: &str, offset: usize) -> String {
    match code {
        ron::Error::ExceededRecursionLimit => {
            format!("nested more than {MAX_NESTING} levels deep (e.g. Not(Not(...))); no scenario needs that many")
        }
        ron::Error::IntegerOutOfBounds => super::limits::out_of_bounds(field, integer_at(text, offset)),
        ron::Error::Message(m) if m == super::format::INTEGER_OUT_OF_BOUNDS => {
            super::limits::out_of_bounds(field, integer_at(text, offset))
        }
        other => other.to_string(),
    }
}

/// The options every scenario is parsed with.
fn ron_options() -> ron::Options {
    // Implicit `Some`: `cost_us: 40` reads as `Some(40)`; writing `Some(40)` still works.
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_recursion_limit(MAX_NESTING)
}

/// The parsed file: its explicit event list read by the byte scanner ([`super::event_list`]) when
/// it can, everything else (and anything the scanner declines) by serde.
pub fn parse_file(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    match parse_with_event_scanner(text, &ron_options()) {
        Some(raw) => Ok(raw),
        None => parse_file_with_serde(text, file),
    }
}

/// The parsed file, all of it read by serde (what [`parse_file`] falls back to, and what the
/// scanner is tested against).
pub fn parse_file_with_serde(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    let at = |e: ron::error::SpannedError, field: String| {
        // ron's span can start at the whitespace before the offending value: point at the value.
        let (line, column) = skip_whitespace(text, e.span.start.line, e.span.start.col);
        let offset = offset_of(text, line, column).unwrap_or(0);
        ScenarioError::Invalid {
            file: super::error::printable(file),
            line,
            column,
            message: super::error::shown(&message(&e.code, &field, text, offset)),
            field: super::error::shown(&field),
        }
    };
    let options = ron_options();
    let deserializer = || ron::Deserializer::from_str_with_options(text, &options).map_err(|e| at(e, "(file)".into()));
    // Parsed plainly first: tracking the path costs an allocation per field (a million explicit
    // events are five million). Only a file that fails is parsed again, for the error's path.
    let mut de = deserializer()?;
    if let Ok(raw) = <ScenarioFile as serde::Deserialize>::deserialize(&mut de) {
        de.end().map_err(|e| at(de.span_error(e), "(end of file)".into()))?;
        return Ok(raw);
    }
    let mut de = deserializer()?;
    let parsed: Result<ScenarioFile, _> = serde_path_to_error::deserialize(&mut de);
    match parsed {
        Ok(raw) => {
            de.end().map_err(|e| at(de.span_error(e), "(end of file)".into()))?;
            Ok(raw)
        }
        Err(e) => {
            // The path serde reports stops at the struct a syntax error is in (or at the top
            // level): name the innermost field at the error's position instead.
            let path = e.path().to_string();
            let spanned = de.span_error(e.into_inner());
            let (line, column) = skip_whitespace(text, spanned.span.start.line, spanned.span.start.col);
            let offset = offset_of(text, line, column).unwrap_or(0);
            let field = super::positions::field_of_parse_error(text, offset, &path);
            Err(at(spanned, field))
        }
    }
}

/// The file read with its explicit event list scanned by [`super::event_list`] and the rest by
/// serde, or `None` when the scanner declines the list or serde fails on the rest: the caller then
/// parses the whole text with serde, for the same result or the error with its position.
fn parse_with_event_scanner(text: &str, options: &ron::Options) -> Option<ScenarioFile> {
    let (events, list) = super::event_list::read(text)?;
    // The list's content cut out: serde reads `Events([])`.
    let rest = [&text[..list.start], &text[list.end..]].concat();
    let mut de = ron::Deserializer::from_str_with_options(&rest, options).ok()?;
    let mut raw = <ScenarioFile as serde::Deserialize>::deserialize(&mut de).ok()?;
    de.end().ok()?;
    match &mut raw.source {
        SourceData::Events(slot) if slot.is_empty() => *slot = events,
        _ => return None,
    }
    Some(raw)
}
