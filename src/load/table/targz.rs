//! `.tar.gz` deliveries (`customerBill_YYYYMM.tar.gz`): their CSV parts, read in memory, whole
//! or a part at a time.

use std::io::Read;
use std::path::Path;

use super::csv::read_csv;
use super::files::Format;
use super::Table;
use crate::load::LoadError;

/// The CSV parts of a `customerBill_YYYYMM.tar.gz`, read in memory, in name order.
pub(super) fn read_tar_gz(bytes: &[u8], label: &str) -> Result<Vec<Table>, LoadError> {
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    csv_entries(bytes, label, true, |name, buf| {
        parts.push((name, buf));
        Ok(())
    })?;
    if parts.is_empty() {
        return Err(no_csv_part(label));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    parts.into_iter().map(|(name, b)| read_csv(b, &format!("{label}/{name}"))).collect()
}

/// The CSV parts of a `.tar.gz` as `read_tar_gz` gives them, handed to `each` one at a time,
/// so that at most one part's text is held (a delivery's parts are 100,000 rows each): the
/// archive is decompressed once to list its parts, then once more, part by part. An archive
/// whose parts are not stored in name order is read whole instead.
pub fn each_tar_gz_part(bytes: &[u8], label: &str, mut each: impl FnMut(Table) -> Result<(), LoadError>) -> Result<(), LoadError> {
    let mut names = Vec::new();
    csv_entries(bytes, label, false, |name, _| {
        names.push(name);
        Ok(())
    })?;
    if names.is_empty() {
        return Err(no_csv_part(label));
    }
    if !names.windows(2).all(|w| w[0] <= w[1]) {
        return read_tar_gz(bytes, label)?.into_iter().try_for_each(each);
    }
    csv_entries(bytes, label, true, |name, buf| each(read_csv(buf, &format!("{label}/{name}"))?))
}

fn no_csv_part(label: &str) -> LoadError {
    LoadError::Archive { path: label.to_string(), message: "the archive holds no .csv part".into() }
}

/// Hands `f` the name of each `.csv` file in a `.tar.gz`, in the order stored, with its bytes
/// when `read` (else empty; the entry is skipped).
fn csv_entries(bytes: &[u8], label: &str, read: bool, mut f: impl FnMut(String, Vec<u8>) -> Result<(), LoadError>) -> Result<(), LoadError> {
    let tar_err = |e: std::io::Error| LoadError::Archive {
        path: label.to_string(),
        message: format!("{e} (the archive is cut short, damaged, or followed by bytes that are not part of it)"),
    };
    // Every gzip member (a concatenated gzip, as `cat a.gz b.gz`, some archivers and parallel
    // compressors make, is one stream of several members), and every tar archive in it: the
    // zero blocks that end one do not end the read. The stream is then read to its end, so
    // that an archive cut short or followed by bytes that are not gzip is an error, not parts
    // that silently vanish.
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(bytes));
    archive.set_ignore_zeros(true);
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(tar_err)?.to_string_lossy().to_string();
        if Format::of(Path::new(&name)) != Some(Format::Csv) {
            continue;
        }
        let mut buf = Vec::new();
        if read {
            entry.read_to_end(&mut buf).map_err(tar_err)?;
        }
        f(name, buf)?;
    }
    let mut rest = archive.into_inner();
    let left = std::io::copy(&mut rest, &mut std::io::sink()).map_err(tar_err)?;
    if left != 0 {
        return Err(LoadError::Archive { path: label.to_string(), message: format!("{left} bytes after the end of the tar archive that are not tar entries") });
    }
    Ok(())
}
