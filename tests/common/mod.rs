//! Shared helpers for the integration tests: run the real `recon` binary in a scratch
//! directory, write small input files, and read the outputs back.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_recon"))
}

/// The source tree. `cargo test` sets CARGO_MANIFEST_DIR when it runs a test, which is preferred
/// to the directory the test was compiled in: with a target directory shared between clones (as
/// `.ci/run` keeps it), an unchanged test binary may come from another clone's build, whose
/// directory may be gone.
pub fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// A scratch directory that is removed at the end of the test.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, bytes).expect("write");
        p
    }

    /// Runs `recon ARGS` with this directory as the working directory.
    pub fn recon(&self, args: &[&str]) -> Output {
        recon_in(self.dir.path(), args, &[])
    }

    /// [`Work::recon`] with environment variables set.
    pub fn recon_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        recon_in(self.dir.path(), args, env)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }
}

/// Runs `recon ARGS` in `cwd` with environment variables set.
pub fn recon_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(bin()).args(args).envs(env.iter().copied()).current_dir(cwd).output().expect("run recon")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Reads a CSV file (BOM tolerated) into rows keyed by header.
pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let text = text.trim_start_matches('\u{feff}');
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = r.headers().expect("headers").iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            headers.iter().cloned().zip(rec.iter().map(str::to_string)).collect()
        })
        .collect()
}

/// A minimal valid rules file; `extra` is appended (products, sections).
pub fn rules(extra: &str) -> String {
    format!(
        r#"[policy]
name = "test policy"
version = "t1"
timezone = "+08:00"
scale = 2
rounding = "half_up"
tolerance = "0.01"

[base]
counted = ["cash_amount"]

[attribution]
association_types = ["resale", "referral"]
rebind_grace_months = 6

[rollover]
late_window_hours = 24

[[product]]
id = "ecs"
service_type = "hws.service.type.ec2"
rate = "0.06"
{extra}"#
    )
}

pub const CONSUMPTION_HEADER: &str = "bill_cycle,customer_id,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount,coupon_amount\n";
pub const INCENTIVE_HEADER: &str = "incentive_period,incentive_id,trade_id,service_type_code,base_amount,rate,incentive_amount\n";

/// A tar archive of the given (name, text) files, stored in the order given.
pub fn tar(parts: &[(&str, String)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, text) in parts {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, text.as_bytes()).expect("append");
    }
    tar.into_inner().expect("tar")
}

/// `bytes` as one gzip member.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gz");
    gz.finish().expect("gz")
}

/// A `.tar.gz` of the given (name, text) files, stored in the order given.
pub fn tar_gz(parts: &[(&str, String)]) -> Vec<u8> {
    gzip(&tar(parts))
}

/// The zip `bytes` again, its parts stored uncompressed and passed through `edit`.
pub fn rezip(bytes: &[u8], edit: &dyn Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).expect("part");
        let name = part.name().expect("name").to_string();
        let mut data = Vec::new();
        part.read_to_end(&mut data).expect("read");
        out.start_file(name.as_str(), stored).expect("start");
        out.write_all(&edit(&name, data)).expect("write");
    }
    out.finish().expect("finish").into_inner()
}
