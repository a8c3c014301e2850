//! Every character the workbench draws is in the fonts it ships with: egui's default
//! proportional family is Ubuntu Light plus egui's icons (the emoji fonts are a feature this
//! build does not enable, and Hack serves only monospace text, so "→" and "▶" draw as boxes). A
//! missing glyph draws as a box for the student (and egui_kittest refuses it): the labels'
//! strings in `gui/src` and the shipped scenarios' names, descriptions and tour captions are
//! scanned here.

use egui::epaint::text::{FontDefinitions, Fonts, TextOptions};
use egui::{FontFamily, FontId};

/// The string literals of Rust source `text` (comments skipped; char literals and lifetimes
/// stepped over).
fn string_literals(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' => {
                i += match (chars.get(i + 1), chars.get(i + 2)) {
                    (Some('\\'), _) => chars[i + 2..].iter().position(|&c| c == '\'').map_or(1, |p| p + 3),
                    (Some(_), Some('\'')) => 3,
                    _ => 1,
                };
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if let Some(&c) = chars.get(i) {
                        s.push(c);
                    }
                    i += 1;
                }
                out.push(s);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_label_character_is_in_the_bundled_fonts() {
    let mut fonts = Fonts::new(TextOptions::default(), FontDefinitions::default());
    let body = FontId::new(14.0, FontFamily::Proportional);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        for s in string_literals(&text) {
            texts.push((file.display().to_string(), s));
        }
    }
    assert!(texts.iter().any(|(_, s)| s == "Only what differs"), "the scan finds the labels");
    let mut scenarios: Vec<_> = std::fs::read_dir(root.join("../scenarios")).expect("scenarios").flatten().collect();
    scenarios.sort_by_key(|e| e.path());
    for entry in scenarios.iter().filter(|e| e.path().extension().is_some_and(|x| x == "ron")) {
        let Ok(s) = sim::Scenario::load(&entry.path()) else { continue };
        let name = entry.path().display().to_string();
        texts.push((name.clone(), s.name.clone()));
        texts.push((name.clone(), s.description.clone()));
        texts.extend(s.tour.iter().map(|t| (name.clone(), t.caption.clone())));
    }
    let mut missing: Vec<String> = Vec::new();
    for (file, s) in &texts {
        for c in s.chars().filter(|c| !c.is_ascii() && !c.is_whitespace()) {
            if !fonts.has_glyph(&body, c) {
                missing.push(format!("{c:?} (U+{:04X}) in {file}: {s:?}", c as u32));
            }
        }
    }
    assert!(missing.is_empty(), "characters the bundled fonts lack:\n{}", missing.join("\n"));
    // The scan does fail on one: a play triangle is in no bundled font (write "Play"), nor are
    // arrows and check marks.
    for c in ['▶', '→', '✓'] {
        assert!(!fonts.has_glyph(&body, c), "{c} is in no bundled font");
    }
}
