//! Issue 18, the outputs: rules errors that say what is wrong, values too long for a workbook
//! cell, CSV cells that Excel would run as formulas, and an --out directory that always holds one
//! whole report (staged, moved into place at the end, locked, cleaned of leftovers).

mod common;

use common::*;

/// Every rules error says what is wrong and what was expected, from the command line: a value
/// missing at the end of the file, a control character in a comment, a file that is not UTF-8.
#[test]
fn check_rules_says_what_is_wrong() {
    let w = Work::new();
    let cases: [(&[u8], &str, &str); 4] = [
        (b"[policy]\nname =", "r.toml:2:7: the value of \"name\" is missing after `=`; expected a value", "    2 | name ="),
        (b"[policy]\nname = \"x\"\n# bad \x01 comment\n", "r.toml:3:7: control character U+0001 is not allowed", "# bad \u{2401} comment"),
        (b"[policy]\nname = \"\xB2\xE2\"\n", "r.toml:2:9: byte 0xB2 is not UTF-8; a rules file must be saved as UTF-8 text (it looks like GBK)", "    2 | name = "),
        (b"[policy]\nname = \"x\n", "r.toml:2:10: invalid basic string: it is not closed", "    2 | name = \"x"),
    ];
    for (text, message, line) in cases {
        w.write("r.toml", text);
        let o = w.recon(&["check-rules", "r.toml"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{err}");
        assert!(err.contains(line) && err.contains('^'), "{err}");
        // every error line has words after the location
        let first = err.lines().next().unwrap_or_default();
        assert!(first.split(": ").nth(1).is_some_and(|m| !m.trim().is_empty()), "{err}");
    }
}
