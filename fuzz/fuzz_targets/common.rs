//! What every loader target does with its bytes: read them as the named file (in memory, as
//! `recon inspect` reads it: format, encoding, tables, header mapping, every row), and read a
//! CSV or a .tar.gz the other ways a run does (a streamed CSV a block at a time, a delivery a
//! part at a time). Any result is fine; a panic, an abort or a hang is the bug.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use recon::load::table;
use recon::rules::RuleSet;

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::from_toml(include_str!("../../fixtures/demo/rules.toml"), "rules.toml").expect("the demo rules"))
}

/// A scratch file of this process, named `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("recon-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}

pub fn load(name: &str, data: &[u8]) {
    let path = scratch(name);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let root = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let _ = recon::load::inspect(&path, &root, rules(), None);
    if name.ends_with(".csv") {
        for block in [64, 4096] {
            let _ = table::csv_blocks(&path, name, block, |mut t| t.for_each_row(|_, _| {}));
        }
    }
    if name.ends_with(".tar.gz") {
        let _ = table::each_tar_gz_part(data, name, |mut t| t.for_each_row(|_, _| {}));
    }
}
