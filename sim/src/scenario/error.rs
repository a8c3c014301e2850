//! Errors: [`ScenarioError`], and the [`Locator`] that gives each one its `file:line:column`.
//!
//! Positions come from the parser's spans (syntax and type errors) or from the field path of a
//! semantic error, looked up in the file's structure by [`super::positions`]: never from searching
//! the text for a word.

use thiserror::Error;

/// A scenario that cannot be read, parsed or run, with where and why.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    /// `field` is the path inside the file (`pipeline[2].Window.kind`); line and column are
    /// 1-based (the column counts characters).
    #[error("{file}:{line}:{column}: {field}: {message}")]
    Invalid { file: String, line: usize, column: usize, field: String, message: String },
}

impl ScenarioError {
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { field, .. } => Some(field),
            ScenarioError::Io { .. } => None,
        }
    }

    /// An error at a byte offset of `text`; control characters in the field and message are
    /// escaped, so a file cannot forge lines of the output.
    pub fn at_offset(file: &str, text: &str, offset: usize, field: &str, message: &str) -> ScenarioError {
        let (line, column) = line_column(text, offset);
        ScenarioError::Invalid { file: printable(file), line, column, field: shown(field), message: shown(message) }
    }
}

/// Characters of a field path or message an error shows at most: a file may quote a name of a
/// megabyte (a key, a node), and an error is one line for people.
const SHOWN_CHARS_MAX: usize = 400;

/// `s` as an error shows it: [`printable`], and cut after 400 characters, saying
/// how many more there were.
pub fn shown(s: &str) -> String {
    clipped(s, SHOWN_CHARS_MAX)
}

/// `s` [`printable`] and cut after `max_chars` characters, saying how many more there were.
pub fn clipped(s: &str, max_chars: usize) -> String {
    let s = printable(s);
    match s.char_indices().nth(max_chars) {
        None => s,
        Some((cut, _)) => format!("{}… ({} more characters)", &s[..cut], s[cut..].chars().count()),
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Whether a file's text may not reach the terminal as it is: a control character moves the
/// cursor or forges a line, and a Unicode bidirectional control (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069) reorders how the rest of the line reads ("Trojan Source"),
/// so a name could make a row or an error say something else than it does.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with [unprintable](is_unprintable) characters escaped (`\n`, `\u{1b}`, `\u{202e}`), for
/// anything from a file that is printed: names, keys, messages quoting them.
pub fn printable(s: &str) -> String {
    if !s.chars().any(is_unprintable) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            c if c.is_control() => c.escape_debug().to_string(),
            c if is_unprintable(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// `s` as one word of a POSIX shell command line, for the commands the tools print to copy:
/// as it is when it has nothing a shell reads specially, else single-quoted, and with control
/// characters as `$'…'` escapes, so a file name can neither run a command nor forge a line.
pub fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_alphanumeric() || "_-./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_string();
    }
    if !s.chars().any(is_unprintable) {
        return format!("'{}'", s.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_unprintable(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Turns a field path into an error at that field's position in the text.
pub struct Locator<'a> {
    pub file: &'a str,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Locator<'a> {
        Locator { file, text }
    }

    /// An error about `field` (a path like `pipeline[2].Window.kind`), pointing at its value, or
    /// at the closest enclosing value the file spells out.
    pub fn error(&self, field: impl Into<String>, message: impl std::fmt::Display) -> ScenarioError {
        let field = field.into();
        let offset = super::positions::locate(self.text, &field).unwrap_or(0);
        ScenarioError::at_offset(self.file, self.text, offset, &field, &message.to_string())
    }

    /// Whether the file spells out the value at `field` (rather than leaving it to a default).
    pub fn spells_out(&self, field: &str) -> bool {
        super::positions::locate_exact(self.text, field).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_at_most_400_characters_of_what_it_quotes() {
        let long = format!("unknown node `{}`", "界".repeat(1 << 20));
        let error = ScenarioError::at_offset("f.ron", "x", 0, &"k".repeat(500), &long);
        let ScenarioError::Invalid { field, message, .. } = &error else { panic!("{error:?}") };
        assert_eq!(field, &format!("{}… (100 more characters)", "k".repeat(400)));
        assert!(message.starts_with("unknown node `界界"), "{message:.40}");
        assert!(message.ends_with(&format!("… ({} more characters)", (1 << 20) + 15 - 400)), "{}", &message[1000..]);
        assert_eq!(shown("short"), "short");
    }

    #[test]
    fn a_shell_word_is_one_word_that_runs_nothing() {
        assert_eq!(shell_word("scenarios/a-b_c.ron"), "scenarios/a-b_c.ron");
        assert_eq!(shell_word("my file.ron"), "'my file.ron'");
        assert_eq!(shell_word("x;touch y'.ron"), r"'x;touch y'\''.ron'");
        assert_eq!(shell_word("a\nb\u{1b}[31m.ron"), r"$'a\u000ab\u001b[31m.ron'");
        assert_eq!(shell_word("it's\n"), r"$'it\'s\u000a'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a\u{202e}b.ron"), r"$'a\u202eb.ron'");
    }

    #[test]
    fn bidirectional_controls_are_escaped_as_control_characters_are() {
        assert_eq!(printable("exe.\u{202e}gnp\u{2066}\n"), r"exe.\u{202e}gnp\u{2066}\n");
        assert_eq!(printable("bjørk 界 é"), "bjørk 界 é");
        assert!(['\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2069}', '\u{7f}'].into_iter().all(is_unprintable));
        assert!(!['\u{2029}', '\u{200d}', 'é'].into_iter().any(is_unprintable));
    }
}
