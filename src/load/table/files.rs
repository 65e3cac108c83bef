//! The files behind the paths given for an input kind: a directory's supported files in name
//! order (and what else it holds, with why it is not read), a file's format from its name or
//! first bytes, whole reads, and the checks that a file did not change while it was read.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::load::LoadError;
use crate::model::hex;

/// A file format recon reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Json,
    TarGz,
}

impl Format {
    /// The format a file's name says: `.csv`, `.xlsx`/`.xls`, `.json`, `.tar.gz` (what a
    /// directory contributes); `None` for any other name.
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".tar.gz") {
            Some(Format::TarGz)
        } else if name.ends_with(".csv") {
            Some(Format::Csv)
        } else if name.ends_with(".xlsx") || name.ends_with(".xls") {
            Some(Format::Xlsx)
        } else if name.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }

    /// The format of a file named on the command line: by its name when that says one, else by
    /// its first bytes (a zip or OLE workbook, a gzip archive, a JSON object or array), else CSV.
    pub fn named(path: &Path) -> Format {
        if let Some(f) = Format::of(path) {
            return f;
        }
        let mut head = [0u8; 64];
        let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
        let head = &head[..n];
        if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            Format::Xlsx
        } else if head.starts_with(&[0x1F, 0x8B]) {
            Format::TarGz
        } else {
            let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
            match text.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') | Some(b'[') => Format::Json,
                _ => Format::Csv,
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::TarGz => "tar.gz",
        }
    }
}

/// One file named on the command line (or found in a directory named there): the unit that
/// `summary.json` lists with its sha256.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    /// How the file is named in outputs: relative to the working directory when under it.
    pub label: String,
    pub format: Format,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Expands the paths given for one input kind into files: a directory gives every supported
/// file in it, in name order.
pub fn expand(paths: &[PathBuf], root: &Path) -> Result<Vec<InputFile>, LoadError> {
    list(paths, root)?.into_iter().map(|(p, _, f)| read_file(&p, root).map(|file| InputFile { format: f, ..file })).collect()
}

/// The files behind the paths given for one input kind, without reading them (for a streamed
/// run, which reads large CSV files a block at a time). A directory gives its `.csv`, `.xlsx`,
/// `.xls`, `.json` and `.tar.gz` files in name order (see [`skipped`] for the rest); a file named
/// itself is read whatever its name ([`Format::named`]).
pub fn list(paths: &[PathBuf], root: &Path) -> Result<Vec<(PathBuf, String, Format)>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LoadError::Io { path: p.display().to_string(), source })?;
        if meta.is_dir() {
            let entries = dir_entries(p)?;
            let files: Vec<_> = entries.into_iter().filter_map(|(e, why)| why.is_none().then_some(e)).collect();
            if files.is_empty() {
                return Err(LoadError::EmptyDirectory { path: p.display().to_string() });
            }
            for e in files {
                let format = Format::of(&e).unwrap_or(Format::Csv);
                out.push((e.clone(), label_of(&e, root), format));
            }
        } else {
            out.push((p.clone(), label_of(p, root), Format::named(p)));
        }
    }
    Ok(out)
}

/// A file in an input directory that recon did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What the directories among `paths` hold besides the files [`list`] gives: notes, PDFs, hidden
/// files, Excel's lock files, symbolic links and subdirectories, each with the reason it was not
/// read.
pub fn skipped(paths: &[PathBuf], root: &Path) -> Vec<Skipped> {
    let mut out = Vec::new();
    for p in paths {
        if !std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        for (e, why) in dir_entries(p).unwrap_or_default() {
            if let Some(reason) = why {
                out.push(Skipped { path: label_of(&e, root), reason: reason.to_string() });
            }
        }
    }
    out
}

/// The entries of an input directory in name order, each with why it is not read (`None`: read).
fn dir_entries(dir: &Path) -> Result<Vec<(PathBuf, Option<&'static str>)>, LoadError> {
    let io = |source| LoadError::Io { path: dir.display().to_string(), source };
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        // (the entry's own type: a symbolic link is not followed)
        let ty = e.file_type().map_err(io)?;
        let why = if ty.is_symlink() {
            Some("a symbolic link: links inside an input directory are not followed (name the file itself on the command line to read it)")
        } else if ty.is_dir() {
            Some("a directory: recon reads the files of an input directory, not its subdirectories")
        } else if !ty.is_file() {
            Some("not a regular file")
        } else if name.starts_with('.') {
            Some("a hidden file (such as .DS_Store or a ._ copy made by macOS)")
        } else if name.starts_with("~$") {
            Some("an Excel lock file (the workbook it belongs to is open in Excel)")
        } else if Format::of(&path).is_none() {
            Some("not an export recon reads (.csv, .xlsx, .xls, .json, .tar.gz)")
        } else {
            None
        };
        entries.push((path, why));
    }
    entries.sort();
    Ok(entries)
}

/// Reads one file whole (any format).
pub fn read_one(path: &Path, root: &Path) -> Result<InputFile, LoadError> {
    read_file(path, root)
}

fn read_file(path: &Path, root: &Path) -> Result<InputFile, LoadError> {
    let format = Format::named(path);
    let label = label_of(path, root);
    let io = |source| LoadError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let before = Stamp::of(&file.metadata().map_err(io)?);
    let mut bytes = Vec::new();
    if before.regular {
        // (no more than the file held when it was opened, and one byte to tell that it grew)
        Read::by_ref(&mut file).take(before.len.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
        pause_for_tests(&label);
        unchanged(path, &label, &file, &before, bytes.len() as u64)?;
    } else {
        // a pipe (`--consumption <(zcat …)`): read to its end; nothing tells its size
        file.read_to_end(&mut bytes).map_err(io)?;
    }
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(InputFile { path: path.to_path_buf(), label, format, bytes, sha256 })
}

/// What says that a file is still the one whose reading began: its size, modification and
/// status-change times, and which file it is.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) len: u64,
    modified: Option<std::time::SystemTime>,
    changed: (i64, i64),
    file: (u64, u64),
    regular: bool,
}

impl Stamp {
    pub(super) fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp { len: m.len(), modified: m.modified().ok(), changed: (m.ctime(), m.ctime_nsec()), file: (m.dev(), m.ino()), regular: m.is_file() }
    }
}

/// An error unless `file` (open, `read` bytes read from it) and the file now at `path` are both
/// as `before` says, every byte of it read: an input truncated, grown, rewritten or replaced
/// while it was read gives a report of neither version.
pub(super) fn unchanged(path: &Path, label: &str, file: &std::fs::File, before: &Stamp, read: u64) -> Result<(), LoadError> {
    let io = |source| LoadError::Io { path: label.to_string(), source };
    let open = Stamp::of(&file.metadata().map_err(io)?);
    let named = std::fs::metadata(path).map(|m| Stamp::of(&m));
    if read != before.len || open != *before || named.as_ref().ok() != Some(before) {
        return Err(LoadError::Changed { path: label.to_string() });
    }
    Ok(())
}

/// For the tests of inputs changed while they are read: with RECON_TEST_PAUSE_READING set to a
/// directory, a read writes `reading` there (holding the input's label) once it has read the
/// input (a streamed CSV: once its first pass has), and goes on when the file is removed (or
/// after 30 s).
pub(super) fn pause_for_tests(label: &str) {
    let Some(dir) = crate::knobs::knobs().test_pause_reading.as_ref() else { return };
    let marker = Path::new(&dir).join("reading");
    // (written whole, then renamed: a test polling for it never reads it half-written)
    let partial = Path::new(&dir).join("reading.part");
    if std::fs::write(&partial, label).is_err() || std::fs::rename(&partial, &marker).is_err() {
        return;
    }
    let start = std::time::Instant::now();
    while marker.exists() && start.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A path as outputs cite it: relative to `root` when under it, with `/` separators (an empty
/// `root` cites every path as given).
pub fn label_of(path: &Path, root: &Path) -> String {
    let abs = if path.is_absolute() { path.to_path_buf() } else { root.join(path) };
    let shown = abs.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
    shown.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::label_of;

    #[test]
    fn a_path_is_cited_relative_to_the_root_under_it_and_as_given_under_an_empty_root() {
        use std::path::Path;
        let root = Path::new("/work/oct");
        assert_eq!(label_of(Path::new("/work/oct/data/c.csv"), root), "data/c.csv");
        assert_eq!(label_of(Path::new("data/c.csv"), root), "data/c.csv");
        assert_eq!(label_of(Path::new("/elsewhere/c.csv"), root), "/elsewhere/c.csv");
        let none = Path::new("");
        assert_eq!(label_of(Path::new("/work/oct/data/c.csv"), none), "/work/oct/data/c.csv");
        assert_eq!(label_of(Path::new("data/c.csv"), none), "data/c.csv");
    }
}
