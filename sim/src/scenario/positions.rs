//! Where a field path (`pipeline[2].Window.kind`) is in the text: a small RON walker that follows
//! the file's structure (never a text search), so an error always points at the value it is about,
//! or at the closest enclosing value that the file spells out (a defaulted field points at its
//! parent). It runs only when an error is reported, so a valid file costs nothing.

/// One step of a field path, as `serde_path_to_error` prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Name(String),
    Index(usize),
}

/// Split `a.b[2].c` into segments. Map keys with `.` or `[` in them cannot be told apart from
/// nesting; they are rare, and the worst case points at the map.
fn split_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Segment::Name(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else { break };
                match stripped[..close].parse() {
                    Ok(i) => out.push(Segment::Index(i)),
                    Err(_) => out.push(Segment::Name(stripped[..close].trim_matches('"').to_string())),
                }
                rest = &stripped[close + 1..];
            }
        } else if !rest.is_empty() {
            out.push(Segment::Name(rest.to_string()));
        }
    }
    out
}

/// Deepest nesting the walker follows (the parser's own limit is lower).
const MAX_DEPTH: usize = 256;

struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    target: Vec<Segment>,
    /// (segments matched, offset) of the deepest match so far.
    best: Option<(usize, usize)>,
}

/// Byte offset of the value at `path` in `text`, or of its closest spelled-out ancestor.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let mut w = Walker { bytes: text.as_bytes(), pos: 0, target: split_path(path), best: None };
    w.skip_trivia();
    // `#![enable(...)]` attributes before the value.
    while w.peek() == Some(b'#') {
        while let Some(c) = w.peek() {
            w.pos += 1;
            if c == b']' {
                break;
            }
        }
        w.skip_trivia();
    }
    w.value(Some(0), 0);
    w.best.map(|(_, offset)| offset)
}

/// Byte offset of the value at `path` if the text spells it out.
pub fn locate_exact(text: &str, path: &str) -> Option<usize> {
    let target = split_path(path).len();
    let mut w = Walker { bytes: text.as_bytes(), pos: 0, target: split_path(path), best: None };
    w.value(Some(0), 0);
    w.best.filter(|&(m, _)| m == target).map(|(_, offset)| offset)
}

impl Walker<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    let mut depth = 1usize;
                    while depth > 0 && self.pos < self.bytes.len() {
                        if self.bytes[self.pos..].starts_with(b"/*") {
                            depth += 1;
                            self.pos += 2;
                        } else if self.bytes[self.pos..].starts_with(b"*/") {
                            depth -= 1;
                            self.pos += 2;
                        } else {
                            self.pos += 1;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn record(&mut self, matched: Option<usize>, offset: usize) {
        if let Some(m) = matched {
            if self.best.is_none_or(|(b, _)| m > b) {
                self.best = Some((m, offset));
            }
        }
    }

    /// Entering a child named `segment` of a value that matched `matched` segments.
    fn child(&self, matched: Option<usize>, segment: &Segment) -> Option<usize> {
        let m = matched?;
        (self.target.get(m) == Some(segment)).then_some(m + 1)
    }

    /// Whether an identifier followed by `(` starts here.
    fn is_variant_start(&self) -> bool {
        let rest = &self.bytes[self.pos..];
        let n = rest.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
        n > 0 && rest[n..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'(')
    }

    fn done(&self) -> bool {
        self.best.is_some_and(|(m, _)| m == self.target.len())
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        if self.bytes[self.pos..].starts_with(b"r#") {
            self.pos += 2;
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80) {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.pos]).trim_start_matches("r#").to_string()
    }

    fn string(&mut self) -> String {
        // r"..", r#".."#, b"..", ".."
        let start = self.pos;
        if self.peek() == Some(b'b') {
            self.pos += 1;
        }
        if self.peek() == Some(b'r') {
            self.pos += 1;
            let mut hashes = 0;
            while self.peek() == Some(b'#') {
                hashes += 1;
                self.pos += 1;
            }
            self.pos += 1; // the quote
            let body = self.pos;
            loop {
                match self.peek() {
                    None => return String::new(),
                    Some(b'"')
                        if self.bytes[self.pos + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes =>
                    {
                        let s = String::from_utf8_lossy(&self.bytes[body..self.pos]).into_owned();
                        self.pos += 1 + hashes;
                        return s;
                    }
                    Some(_) => self.pos += 1,
                }
            }
        }
        let quote = self.peek().unwrap_or(b'"');
        self.pos += 1;
        let body = self.pos;
        while let Some(c) = self.peek() {
            if c == b'\\' {
                self.pos += 2;
                continue;
            }
            self.pos += 1;
            if c == quote {
                break;
            }
        }
        let _ = start;
        let end = self.pos.saturating_sub(1).max(body).min(self.bytes.len());
        String::from_utf8_lossy(&self.bytes[body..end]).into_owned()
    }

    /// A value whose path matched `matched` target segments (None: off the target's path).
    fn value(&mut self, matched: Option<usize>, depth: usize) {
        if depth > MAX_DEPTH || self.done() {
            self.pos = self.bytes.len();
            return;
        }
        self.skip_trivia();
        let start = self.pos;
        self.record(matched, start);
        let Some(c) = self.peek() else { return };
        match c {
            b'(' => self.parens(matched, depth),
            b'[' => {
                self.pos += 1;
                let mut i = 0;
                loop {
                    self.skip_trivia();
                    match self.peek() {
                        None => return,
                        Some(b']') => {
                            self.pos += 1;
                            return;
                        }
                        Some(b',') => self.pos += 1,
                        Some(_) => {
                            let m = self.child(matched, &Segment::Index(i));
                            self.value(m, depth + 1);
                            i += 1;
                        }
                    }
                }
            }
            b'{' => {
                self.pos += 1;
                loop {
                    self.skip_trivia();
                    match self.peek() {
                        None => return,
                        Some(b'}') => {
                            self.pos += 1;
                            return;
                        }
                        Some(b',') => self.pos += 1,
                        Some(_) => {
                            let key_start = self.pos;
                            let key = if matches!(self.peek(), Some(b'"' | b'r' | b'b')) {
                                self.string()
                            } else {
                                self.value(None, depth + 1);
                                String::from_utf8_lossy(&self.bytes[key_start..self.pos]).trim().to_string()
                            };
                            let m = self.child(matched, &Segment::Name(key));
                            self.skip_trivia();
                            if self.peek() == Some(b':') {
                                self.pos += 1;
                            }
                            self.value(m, depth + 1);
                        }
                    }
                }
            }
            b'"' | b'\'' => {
                self.string();
            }
            b'r' | b'b' if matches!(self.bytes.get(self.pos + 1), Some(b'"' | b'#')) => {
                self.string();
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let name = self.ident();
                self.skip_trivia();
                if self.peek() == Some(b'(') {
                    // A variant (or a struct name, or `Some`): a path segment when the target names
                    // it, otherwise transparent.
                    let segment = Segment::Name(name);
                    let m = match self.child(matched, &segment) {
                        Some(m) => Some(m),
                        None => matched,
                    };
                    if m != matched {
                        self.record(m, start);
                    }
                    self.parens(m, depth);
                }
            }
            _ => {
                // A number or something unexpected: consume one token.
                self.pos += 1;
                while self.peek().is_some_and(|c| !b"()[]{},: \t\r\n/".contains(&c)) {
                    self.pos += 1;
                }
            }
        }
    }

    /// `( … )`: struct fields `name: value`, or tuple items (a one-item tuple is transparent, as
    /// newtype variants are).
    fn parens(&mut self, matched: Option<usize>, depth: usize) {
        self.pos += 1;
        let mut i = 0;
        loop {
            self.skip_trivia();
            match self.peek() {
                None => return,
                Some(b')') => {
                    self.pos += 1;
                    return;
                }
                Some(b',') => self.pos += 1,
                Some(c) => {
                    // A field is an identifier followed by `:`.
                    if c.is_ascii_alphabetic() || c == b'_' {
                        let save = self.pos;
                        let name = self.ident();
                        self.skip_trivia();
                        if self.peek() == Some(b':') {
                            self.pos += 1;
                            let m = self.child(matched, &Segment::Name(name));
                            self.value(m, depth + 1);
                            continue;
                        }
                        self.pos = save;
                    }
                    // A tuple item, indexed; but a first item that is itself a structure is the
                    // content of a newtype variant (`Events([...])`, `Generator((...))`), which
                    // has no segment of its own.
                    let nested = matches!(c, b'(' | b'[' | b'{') || self.is_variant_start();
                    let m = if i == 0 && nested { matched } else { self.child(matched, &Segment::Index(i)) };
                    self.value(m, depth + 1);
                    i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"Scenario(
    name: "t", // interval_ms: 5 in a comment
    watermarks: BoundedOutOfOrderness(bound_ms: 5, emit: Periodic(interval_ms: 200)),
    source: Events([(key: "a", value: 1, ts: 5, arrives: 10), (key: "b", value: 2, ts: 6, arrives: 11)]),
    pipeline: [Source(name: "in"), Window(name: "w", kind: Tumbling(size_ms: 10))],
    placement: { "in#0": "tm-1" },
    checkpoints: (interval_ms: 0),
)"#;

    fn at(path: &str) -> &'static str {
        let offset = locate(TEXT, path).expect("found");
        &TEXT[offset..offset + 12.min(TEXT.len() - offset)]
    }

    #[test]
    fn paths_point_at_their_values() {
        assert!(at("checkpoints.interval_ms").starts_with("0)"));
        assert!(at("source.Events[1].ts").starts_with("6,"));
        assert!(at("source[1].arrives").starts_with("11"));
        assert!(at("pipeline[1].Window.kind").starts_with("Tumbling"));
        assert!(at("pipeline[1].kind.Tumbling.size_ms").starts_with("10"));
        assert!(at("placement.in#0").starts_with("\"tm-1\""));
        // A defaulted field points at its parent.
        assert!(at("pipeline[0].Source.parallelism").starts_with("Source("));
        assert!(at("watermarks.emit.Periodic.interval_ms").starts_with("200"));
    }
}
