//! The house's layers (DEVELOPERS.md, issue 19): dependencies point one way,
//! `model ← rules ← load ← engine ← report ← config ← exec ← commands ← cli ← main`, with leaves
//! (`obs`, `progress`, `gen`) that any module may use and that use only leaves. This test reads
//! `src/` and fails when a module names one above it (`crate::X` in a `use` or a path), so the
//! layers cannot erode unnoticed.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, bottom first.
const LAYERS: &[&str] = &["model", "rules", "sql", "load", "engine", "report", "config", "exec", "policy", "commands", "cli"];
/// Modules anyone may use; they use only each other.
const LEAVES: &[&str] = &["obs", "progress", "gen", "knobs", "outdir"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text of a file without comments and string literals (a path in a doc comment or a string
/// is not an import).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if b[i] == b'r' && b[i..].starts_with(b"r#\"") {
            let end = text[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            i = end;
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // a char literal such as '"' or '\n' (a lifetime has no closing quote)
            let end = text[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            i = end;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The top-level modules a file names through `crate::`: `crate::x::…` and `use crate::{x, y::…}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let before = rest[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            rest = after;
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // top-level names in the braces
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(after));
        }
        rest = after;
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().to_string()).unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

fn rank(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == m)
}

#[test]
fn no_module_imports_one_above_it() {
    let src = common::repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unknown = BTreeSet::new();
    for f in &files {
        let m = module_of(&src, f);
        if m == "main" || m == "lib" {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(f).expect("read"));
        for used in named_modules(&code) {
            if used == m {
                continue;
            }
            let ok = match (LEAVES.contains(&m.as_str()), LEAVES.contains(&used.as_str()), rank(&m), rank(&used)) {
                (_, true, _, _) => true,
                (true, false, _, _) => false,
                (false, false, Some(a), Some(b)) => b < a,
                _ => {
                    unknown.insert(format!("{m} -> {used}"));
                    true
                }
            };
            if !ok {
                violations.push(format!("{} ({m}) uses crate::{used}, which is above it", f.strip_prefix(&src).unwrap_or(f).display()));
            }
        }
    }
    assert!(unknown.is_empty(), "modules missing from LAYERS/LEAVES in tests/layers.rs: {unknown:?}");
    assert!(violations.is_empty(), "layer violations:\n  {}", violations.join("\n  "));
}

#[test]
fn every_module_of_lib_has_a_layer() {
    let lib = std::fs::read_to_string(common::repo().join("src/lib.rs")).expect("lib.rs");
    for line in lib.lines().filter_map(|l| l.trim().strip_prefix("pub mod ")) {
        let m = line.trim_end_matches(';');
        assert!(rank(m).is_some() || LEAVES.contains(&m), "src/lib.rs declares {m}, which tests/layers.rs does not place");
    }
}

#[test]
fn the_environment_is_read_in_one_place() {
    let src = common::repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files.iter().filter(|f| !f.ends_with("knobs.rs")) {
        let code = code_only(&std::fs::read_to_string(f).expect("read"));
        assert!(!code.contains("env::var"), "{} reads the environment: add the knob to src/knobs.rs", f.display());
    }
}

#[test]
fn main_is_thin() {
    let main = std::fs::read_to_string(common::repo().join("src/main.rs")).expect("main.rs");
    let lines = main.lines().count();
    assert!(lines < 100, "src/main.rs has {lines} lines: parse, call the library, map the exit status; the rest belongs in the library");
}

#[test]
fn the_checker_sees_what_it_must() {
    let code = code_only("use crate::{model::Period, load::{self, X}};\n// crate::app in a comment\nlet s = \"crate::stream\";\nfn f() { crate::engine::run(); }\n");
    let got: Vec<String> = named_modules(&code).into_iter().collect();
    assert_eq!(got, vec!["engine", "load", "model"]);
}
