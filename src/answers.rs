//! A class's answers file for `streamlab exercise grade`: CSV (RFC 4180, as a spreadsheet saves
//! it) with the header `student,exercise,answer` and one answer per line. A field holding a comma,
//! a quote or a line break is quoted (`"amo,alo"`, a quote doubled inside). Every mistake names
//! the file, line and column, and which field.

use std::path::Path;

/// The largest answers file read: a class of hundreds answering every exercise is far below it,
/// and nothing larger is held in memory.
pub const MAX_ANSWERS_BYTES: u64 = 16 * 1024 * 1024;

/// One student's answer to one exercise, and the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub student: String,
    pub exercise: String,
    pub answer: String,
    pub line: usize,
}

/// Why an answers file cannot be graded: `file:line:column: field: what`.
#[derive(Debug, PartialEq, Eq)]
pub struct BadAnswers(pub String);

const HEADER: [&str; 3] = ["student", "exercise", "answer"];

/// Read the answers in `text` (from `file`, named in errors).
pub fn parse(file: &Path, text: &str) -> Result<Vec<Answer>, BadAnswers> {
    let at = |line: usize, column: usize, field: &str, what: String| {
        BadAnswers(format!("{}:{line}:{column}: {field}: {what}", file.display()))
    };
    let records = records(text).map_err(|(line, column, what)| at(line, column, "csv", what))?;
    let Some((header, rest)) = records.split_first() else {
        return Err(at(1, 1, "header", format!("the file is empty; its first line is `{}`", HEADER.join(","))));
    };
    let names: Vec<String> = header.fields.iter().map(|f| f.trim().to_ascii_lowercase()).collect();
    if names != HEADER {
        let what = format!("the first line must be `{}` (it is `{}`)", HEADER.join(","), header.fields.join(","));
        return Err(at(header.line, 1, "header", what));
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(rest.len());
    // Each (student, exercise) once: the line of its answer.
    let mut seen: std::collections::HashMap<(String, String), usize> = std::collections::HashMap::new();
    for record in rest.iter().filter(|r| !r.is_blank()) {
        let [student, exercise, answer] = record.fields.as_slice() else {
            let what = format!("3 fields (student, exercise, answer), found {}", record.fields.len());
            return Err(at(record.line, 1, "fields", what));
        };
        let (student, exercise) = (student.trim().to_string(), exercise.trim().to_string());
        if student.is_empty() || exercise.is_empty() {
            let field = if student.is_empty() { "student" } else { "exercise" };
            return Err(at(record.line, 1, field, "empty".into()));
        }
        if let Some(earlier) = seen.insert((student.clone(), exercise.clone()), record.line) {
            let what = format!("{student} answered {exercise} already on line {earlier}");
            return Err(at(record.line, 1, "exercise", what));
        }
        answers.push(Answer { student, exercise, answer: answer.clone(), line: record.line });
    }
    Ok(answers)
}

/// A CSV record: its fields and the line it starts on.
struct Record {
    fields: Vec<String>,
    line: usize,
}

impl Record {
    fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// Split `text` into records (RFC 4180; a line break inside quotes belongs to the field).
/// An error is `(line, column, what)`.
fn records(text: &str) -> Result<Vec<Record>, (usize, usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // a spreadsheet's byte order mark
    let mut records = Vec::new();
    let (mut fields, mut field) = (Vec::new(), String::new());
    let (mut line, mut column, mut start_line) = (1, 0, 1);
    let mut quoted_at: Option<(usize, usize)> = None; // inside quotes: where they opened
    let mut after_quote = false; // a quoted field just closed: only `,` or a line break may follow
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        column += 1;
        match (quoted_at, c) {
            (Some(_), '"') if chars.peek() == Some(&'"') => {
                chars.next();
                column += 1;
                field.push('"');
            }
            (Some(_), '"') => {
                quoted_at = None;
                after_quote = true;
            }
            (Some(_), c) => {
                if c == '\n' {
                    (line, column) = (line + 1, 0);
                }
                field.push(c);
            }
            (None, '"') if field.is_empty() && !after_quote => quoted_at = Some((line, column)),
            (None, ',') => {
                fields.push(std::mem::take(&mut field));
                after_quote = false;
            }
            (None, '\r') if chars.peek() == Some(&'\n') => {}
            (None, '\n') => {
                fields.push(std::mem::take(&mut field));
                records.push(Record { fields: std::mem::take(&mut fields), line: start_line });
                (line, column, after_quote) = (line + 1, 0, false);
                start_line = line;
            }
            (None, c) if after_quote => {
                return Err((
                    line,
                    column,
                    format!("`{c}` after a closing quote (a quote inside a quoted field is doubled: \"\")"),
                ));
            }
            (None, '"') => {
                return Err((line, column, "a quote inside an unquoted field (quote the whole field)".into()))
            }
            (None, c) => field.push(c),
        }
    }
    if let Some((line, column)) = quoted_at {
        return Err((line, column, "a quote opened here is never closed".into()));
    }
    if !field.is_empty() || !fields.is_empty() || after_quote {
        fields.push(field);
        records.push(Record { fields, line: start_line });
    }
    Ok(records)
}

/// `field` as a CSV field: quoted when it holds a comma, a quote or a line break.
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Read the answers file at `path` (at most [`MAX_ANSWERS_BYTES`]).
pub fn load(path: &Path) -> Result<Vec<Answer>, BadAnswers> {
    let bad = |what: String| BadAnswers(format!("{}: {what}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > MAX_ANSWERS_BYTES {
        return Err(bad(format!(
            "{} bytes, over the limit of {MAX_ANSWERS_BYTES}: grade the class in parts",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        bad(format!("not UTF-8 text (byte {offset}); save the spreadsheet as CSV UTF-8"))
    })?;
    parse(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<(String, String, String, usize)>, String> {
        parse(Path::new("class.csv"), text)
            .map(|v| v.into_iter().map(|a| (a.student, a.exercise, a.answer, a.line)).collect())
            .map_err(|e| e.0)
    }
    fn row(s: &str, e: &str, a: &str, line: usize) -> (String, String, String, usize) {
        (s.into(), e.into(), a.into(), line)
    }

    #[test]
    fn a_spreadsheets_csv_reads_with_quotes_commas_line_breaks_and_blank_lines() {
        let text = "\u{feff}Student,Exercise,Answer\r\nalice,ks-1,3\r\n\r\n\"bob, jr\",cmp-2,\"amo,alo\"\nchloé,et-1,\"say \"\"never\"\"\nreally\"\ndan,ks-1,";
        assert_eq!(
            parsed(text).unwrap(),
            vec![
                row("alice", "ks-1", "3", 2),
                row("bob, jr", "cmp-2", "amo,alo", 4),
                row("chloé", "et-1", "say \"never\"\nreally", 5),
                row("dan", "ks-1", "", 7),
            ]
        );
    }

    #[test]
    fn every_mistake_names_its_line_column_and_field() {
        let cases = [
            ("", "class.csv:1:1: header: the file is empty"),
            ("name,exercise,answer\n", "class.csv:1:1: header: the first line must be `student,exercise,answer`"),
            ("student,exercise,answer\nalice,ks-1\n", "class.csv:2:1: fields: 3 fields"),
            ("student,exercise,answer\nalice,ks-1,\"3\n", "class.csv:2:12: csv: a quote opened here is never closed"),
            ("student,exercise,answer\nalice,ks-1,\"3\"x\n", "class.csv:2:15: csv: `x` after a closing quote"),
            ("student,exercise,answer\nalice,ks\"1,3\n", "class.csv:2:9: csv: a quote inside an unquoted field"),
            ("student,exercise,answer\n,ks-1,3\n", "class.csv:2:1: student: empty"),
            (
                "student,exercise,answer\na,ks-1,3\nb,ks-1,3\na,ks-1,4\n",
                "class.csv:4:1: exercise: a answered ks-1 already on line 2",
            ),
        ];
        for (text, want) in cases {
            let got = parsed(text).expect_err(text);
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn a_field_written_as_csv_reads_back_the_same() {
        for field in ["3", "amo,alo", "say \"never\"", "two\nlines", ""] {
            let text = format!("student,exercise,answer\na,x,{}\n", csv_field(field));
            assert_eq!(parsed(&text).unwrap()[0].2, field);
        }
    }
}
