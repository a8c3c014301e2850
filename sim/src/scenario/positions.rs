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

/// The field path (`pipeline[2].Window.kind.Tumbling.size_ms`, spelled as `serde_path_to_error`
/// spells paths) of the innermost value that the byte `offset` of `text` falls in, read off the
/// file's structure up to that offset. A syntax error's position is inside the field it breaks;
/// a position after a field's value and before the comma that ends it (`parallelism: 3 x`) is that
/// field's, and one on a field's name (a duplicate field) is that field's too. Empty at the top
/// level.
pub fn path_at(text: &str, offset: usize) -> String {
    let lex = Walker { bytes: text.as_bytes(), pos: 0, target: Vec::new(), best: None };
    let mut walk = PathAt { lex, offset, stack: Vec::new(), found: None };
    walk.lex.skip_trivia();
    while walk.lex.peek() == Some(b'#') && !walk.reached() {
        while let Some(c) = walk.lex.peek() {
            walk.lex.pos += 1;
            if c == b']' {
                break;
            }
        }
        walk.lex.skip_trivia();
    }
    if walk.found.is_none() {
        walk.value(0);
    }
    render(walk.found.as_deref().unwrap_or(&walk.stack))
}

/// The field a parse error at byte `offset` is about: the path the parser reported
/// (`parsed_path`, `?` segments cut), or the innermost field at the offset ([`path_at`]) when that
/// goes deeper; `(top level)` when neither names one.
pub fn field_of_parse_error(text: &str, offset: usize, parsed_path: &str) -> String {
    let parsed = parsed_path.split(".?").next().unwrap_or("").trim_end_matches('?');
    let parsed = if parsed == "." { "" } else { parsed };
    let at = path_at(text, offset);
    let deeper = at.strip_prefix(parsed).is_some_and(|rest| parsed.is_empty() || rest.starts_with(['.', '[']));
    let field = if deeper { at } else { parsed.to_string() };
    if field.is_empty() {
        "(top level)".to_string()
    } else {
        field
    }
}

/// Segments as a path: `a.b[2].c`.
fn render(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The walk behind [`path_at`]: [`Walker`]'s lexing, a stack of the segments open at the current
/// position, and the stack as it was when the walk reached the offset.
struct PathAt<'a> {
    lex: Walker<'a>,
    offset: usize,
    stack: Vec<Segment>,
    found: Option<Vec<Segment>>,
}

impl PathAt<'_> {
    /// Whether the walk has reached the offset (or the end of the text): then the path is the
    /// stack as it is now.
    fn reached(&mut self) -> bool {
        if self.found.is_none() && (self.lex.pos >= self.offset || self.lex.pos >= self.lex.bytes.len()) {
            self.found = Some(self.stack.clone());
        }
        self.found.is_some()
    }

    /// One value; true when the walk reached the offset inside it.
    fn value(&mut self, depth: usize) -> bool {
        self.lex.skip_trivia();
        if self.reached() {
            return true;
        }
        if depth > MAX_DEPTH {
            self.found = Some(self.stack.clone());
            return true;
        }
        let Some(c) = self.lex.peek() else { return self.reached() };
        match c {
            b'(' => self.items(depth, b')'),
            b'[' => self.items(depth, b']'),
            b'{' => self.map(depth),
            b'"' | b'\'' => {
                self.lex.string();
                false
            }
            b'r' | b'b' if matches!(self.lex.bytes.get(self.lex.pos + 1), Some(b'"' | b'#')) => {
                self.lex.string();
                false
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let name = self.lex.ident();
                self.lex.skip_trivia();
                if self.reached() || self.lex.peek() != Some(b'(') {
                    return self.found.is_some();
                }
                // `Some(..)` and the top level's struct name are no segment; a variant is.
                let named = depth > 0 && name != "Some";
                if named {
                    self.stack.push(Segment::Name(name));
                }
                let done = self.items(depth, b')');
                if named {
                    self.stack.pop();
                }
                done
            }
            _ => {
                self.lex.pos += 1;
                while self.lex.peek().is_some_and(|c| !b"()[]{},: \t\r\n/".contains(&c)) {
                    self.lex.pos += 1;
                }
                false
            }
        }
    }

    /// `( … )` or `[ … ]`: struct fields `name: value` or items, indexed (a first item in parens
    /// that is itself a structure is a newtype variant's content, with no segment of its own). A
    /// field or item stays on the stack until the comma or bracket after it.
    fn items(&mut self, depth: usize, close: u8) -> bool {
        self.lex.pos += 1;
        let mut index = 0;
        let mut open = false;
        loop {
            self.lex.skip_trivia();
            // A field's name belongs to the field: checked before the offset is.
            if close == b')' && self.found.is_none() {
                let key_start = self.lex.pos;
                if let Some(name) = self.field_name() {
                    if self.offset < key_start {
                        self.found = Some(self.stack.clone());
                        return true;
                    }
                    if open {
                        self.stack.pop();
                    }
                    self.stack.push(Segment::Name(name));
                    open = true;
                    if self.offset < self.lex.pos || self.value(depth + 1) {
                        self.found.get_or_insert_with(|| self.stack.clone());
                        return true;
                    }
                    continue;
                }
            }
            // A bracket that closes the container is the container's (a missing field is
            // reported there), not the last field's.
            if open && matches!(self.lex.peek(), Some(b')' | b']' | b'}')) {
                self.stack.pop();
                open = false;
            }
            if self.reached() {
                return true;
            }
            let Some(c) = self.lex.peek() else { return true };
            if c == b',' || c == close || matches!(c, b')' | b']' | b'}') {
                self.lex.pos += 1;
                if open {
                    self.stack.pop();
                    open = false;
                }
                if c == b',' {
                    continue;
                }
                return false;
            }
            if open {
                self.stack.pop();
            }
            let nested = matches!(c, b'(' | b'[' | b'{') || self.lex.is_variant_start();
            open = !(close == b')' && index == 0 && nested);
            if open {
                self.stack.push(Segment::Index(index));
            }
            if self.value(depth + 1) {
                return true;
            }
            index += 1;
        }
    }

    /// A field's name and its `:`, consumed, if one starts here; else nothing is consumed.
    fn field_name(&mut self) -> Option<String> {
        let start = self.lex.pos;
        if !self.lex.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            return None;
        }
        let name = self.lex.ident();
        self.lex.skip_trivia();
        if self.lex.peek() == Some(b':') {
            self.lex.pos += 1;
            return Some(name);
        }
        self.lex.pos = start;
        None
    }

    /// `{ key: value, … }`: each value under its key.
    fn map(&mut self, depth: usize) -> bool {
        self.lex.pos += 1;
        let mut open = false;
        loop {
            self.lex.skip_trivia();
            if open && matches!(self.lex.peek(), Some(b')' | b']' | b'}')) {
                self.stack.pop();
                open = false;
            }
            if self.reached() {
                return true;
            }
            let Some(c) = self.lex.peek() else { return true };
            if matches!(c, b',' | b')' | b']' | b'}') {
                self.lex.pos += 1;
                if open {
                    self.stack.pop();
                    open = false;
                }
                if c == b',' {
                    continue;
                }
                return false;
            }
            if open {
                self.stack.pop();
            }
            let key_start = self.lex.pos;
            let quoted = c == b'"'
                || (matches!(c, b'r' | b'b') && matches!(self.lex.bytes.get(key_start + 1), Some(b'"' | b'#')));
            let key = if quoted {
                self.lex.string()
            } else {
                if self.value(depth + 1) {
                    return true;
                }
                String::from_utf8_lossy(&self.lex.bytes[key_start..self.lex.pos]).trim().to_string()
            };
            self.stack.push(Segment::Name(key));
            open = true;
            self.lex.skip_trivia();
            if self.lex.peek() == Some(b':') {
                self.lex.pos += 1;
            }
            if self.value(depth + 1) {
                return true;
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

    /// The path at the first occurrence of `marker` in `text`.
    fn path_at_marker(text: &str, marker: &str) -> String {
        path_at(text, text.find(marker).expect("marker"))
    }

    #[test]
    fn a_position_names_the_innermost_field_it_falls_in() {
        assert_eq!(path_at_marker(TEXT, "\"t\""), "name");
        assert_eq!(path_at_marker(TEXT, "200"), "watermarks.BoundedOutOfOrderness.emit.Periodic.interval_ms");
        assert_eq!(path_at_marker(TEXT, "6, arr"), "source.Events[1].ts");
        assert_eq!(path_at_marker(TEXT, "size_ms"), "pipeline[1].Window.kind.Tumbling.size_ms");
        assert_eq!(path_at_marker(TEXT, "\"tm-1\""), "placement.in#0");
        assert_eq!(path_at_marker(TEXT, "Scenario"), "");
        // Junk after a value, before its comma, is that field's; a duplicate field's name is its.
        let junk = "Scenario(\n  name: \"t\",\n  pipeline: [Source(name: \"in\", parallelism: 3 x)],\n)";
        assert_eq!(path_at_marker(junk, "x)"), "pipeline[0].Source.parallelism");
        let duplicate = "Scenario(name: \"t\", checkpoints: (interval_ms: 5, interval_ms: 6))";
        assert_eq!(path_at_marker(duplicate, "interval_ms: 6"), "checkpoints.interval_ms");
        // The bracket that closes a struct is the struct's: a missing field is reported there.
        let missing = "Scenario(name: \"t\", checkpoints: (timeout_ms: 5))";
        assert_eq!(path_at_marker(missing, "))"), "checkpoints");
        // A unit variant given parentheses: the field it is the value of.
        let unit = "Scenario(name: \"t\", model: Flink(()))";
        assert_eq!(path_at_marker(unit, "(()"), "model");
        // The end of an unfinished file: the fields still open.
        let cut = "Scenario(name: \"t\", checkpoints: (interval_ms: ";
        assert_eq!(path_at(cut, cut.len()), "checkpoints.interval_ms");
    }

    #[test]
    fn a_parse_error_names_the_deeper_of_the_parsers_path_and_the_position() {
        let junk = "Scenario(pipeline: [Source(name: \"in\", parallelism: 3 x)])";
        let offset = junk.find("x)").expect("marker");
        assert_eq!(field_of_parse_error(junk, offset, "pipeline[0].Source"), "pipeline[0].Source.parallelism");
        assert_eq!(field_of_parse_error(junk, offset, ""), "pipeline[0].Source.parallelism");
        // The parser's path wins where the position is not inside it.
        assert_eq!(field_of_parse_error(junk, offset, "checkpoints"), "checkpoints");
        assert_eq!(field_of_parse_error(junk, 0, "."), "(top level)");
    }
}
