//! Seeded mutations of the demo inputs and rules (issue 18): byte flips, truncation, oversized
//! fields, bad numbers, duplicated headers, stray quotes and NULs, hostile archives (several
//! gzip members, cut, padded, damaged tar headers) and hostile workbooks (a part failing its
//! CRC, an absurd shared-string count, a stray far cell, a cut sheet). Every run must exit 0 or 1
//! with `rows = accepted + rejected` for every input in summary.json, or exit 2 with a message
//! naming the mutated file; never a panic, a signal, a hang (a timeout per run) or more than a
//! bounded amount of memory (each run under an address-space limit: the unmutated demo needs
//! about 200 MB in memory and 1 GB streamed, where 64 MiB block buffers are reserved).
//!
//! The generator is a fixed-seed xorshift: a failure names its seed and mutation, and reruns
//! the same. RECON_MUTATIONS=N runs N mutations instead of the default; RECON_MUTATIONS_LOG=1
//! prints each run's mutation, exit and time.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The address space each run may take.
const MEMORY_LIMIT: u64 = 2 << 30;
/// How long one run may take (a debug build reads the demo in well under a second).
const TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RUNS: usize = 80;

const FILES: [&str; 8] = [
    "consumption/consumption_2026-08.csv",
    "consumption/consumption_2026-09.xlsx",
    "consumption/consumption_2026-10.json",
    "incentives/incentives_2026-09.csv",
    "incentives/incentives_2026-10.csv",
    "customers.csv",
    "bills/customerBill_202610.tar.gz",
    "rules.toml",
];

/// xorshift64*, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gz");
    gz.finish().expect("gz")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip");
    out
}


fn replace_in(data: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(&data).into_owned();
    text.replacen(from, to, 1).into_bytes()
}

/// Offsets of `b` in `bytes`.
fn offsets(bytes: &[u8], b: u8) -> Vec<usize> {
    bytes.iter().enumerate().filter(|(_, &c)| c == b).map(|(i, _)| i).collect()
}

/// A mutation of `bytes` (the file `name`), and what it is.
fn mutate(rng: &mut Rng, name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut b = bytes.to_vec();
    let n = b.len().max(1);
    let special = if name.ends_with(".tar.gz") {
        8
    } else if name.ends_with(".xlsx") {
        8
    } else {
        0
    };
    let kind = rng.below(11 + special);
    match kind {
        0 => {
            let k = 1 + rng.below(8);
            for _ in 0..k {
                let at = rng.below(n);
                if at < b.len() {
                    b[at] = rng.next() as u8;
                }
            }
            (format!("{k} bytes flipped"), b)
        }
        1 => {
            let at = rng.below(n);
            b.truncate(at);
            (format!("cut at byte {at}"), b)
        }
        2 => {
            // an oversized field: after a comma, a quote, an equals sign or a colon
            let seps: Vec<usize> = b.iter().enumerate().filter(|(_, &c)| matches!(c, b',' | b'"' | b'=' | b':')).map(|(i, _)| i + 1).collect();
            let at = if seps.is_empty() { rng.below(n) } else { *rng.pick(&seps) };
            let len = *rng.pick(&[40_000usize, 70_000, 300_000]);
            let fill = *rng.pick(&[b'A', b'9', 0xE5]);
            let at = at.min(b.len());
            b.splice(at..at, std::iter::repeat_n(fill, len));
            (format!("{len} bytes of {fill:#x} inserted at {at}"), b)
        }
        3 => {
            // a number made bad: a digit run replaced
            let digits = offsets(&b, b'0').into_iter().chain(offsets(&b, b'1')).chain(offsets(&b, b'5')).collect::<Vec<_>>();
            let bad = *rng.pick(&["1e999", "NaN", "-inf", "99999999999999999999999999999999999999", "0.0000000000000000000000000001", "1,000.00", "１２３", "--1", "0x1F", "", "(12.50)", "12.345.6", "9".repeat(400).leak()]);
            if digits.is_empty() {
                return (format!("{bad:?} appended"), [b, bad.as_bytes().to_vec()].concat());
            }
            let at = *rng.pick(&digits);
            let end = at + b[at..].iter().take_while(|c| c.is_ascii_digit() || **c == b'.').count();
            b.splice(at..end, bad.bytes());
            (format!("number at {at} replaced by {bad:?}"), b)
        }
        4 => {
            // the header line twice, or its first column twice
            let end = b.iter().position(|&c| c == b'\n').map_or(b.len(), |i| i + 1);
            let line = b[..end].to_vec();
            if rng.below(2) == 0 {
                b.splice(end..end, line);
                ("first line repeated".into(), b)
            } else {
                let first = line.iter().position(|&c| c == b',').map_or(line.clone(), |i| line[..i].to_vec());
                let at = line.iter().rposition(|c| !matches!(c, b'\r' | b'\n')).map_or(0, |i| i + 1);
                b.splice(at..at, [b",".to_vec(), first].concat());
                ("first column of the first line repeated".into(), b)
            }
        }
        5 => {
            let at = rng.below(n).min(b.len());
            b.insert(at, b'"');
            (format!("a quote inserted at {at}"), b)
        }
        6 => {
            let at = rng.below(n).min(b.len());
            b.splice(at..at, [0u8; 3]);
            (format!("NULs inserted at {at}"), b)
        }
        7 => {
            let t = String::from_utf8_lossy(&b).replace('\n', "\r");
            ("line breaks made CR".into(), t.into_bytes())
        }
        8 => {
            // a line repeated many times (more rows than the original)
            let lines: Vec<&[u8]> = bytes.split(|&c| c == b'\n').collect();
            let line = rng.pick(&lines[1.min(lines.len() - 1)..]).to_vec();
            let times = 2_000;
            for _ in 0..times {
                b.extend_from_slice(b"\n");
                b.extend_from_slice(&line);
            }
            (format!("a line appended {times} times"), b)
        }
        9 => {
            let at = rng.below(n).min(b.len());
            b.splice(at..at, rng.pick(&[b"\xEF\xBB\xBF".as_slice(), b"\xFF\xFE", b"\xC3", b"\x81\x30"]).iter().copied());
            (format!("stray encoding bytes at {at}"), b)
        }
        10 => {
            // a line deleted
            let nl = offsets(&b, b'\n');
            if nl.len() < 2 {
                return ("emptied".into(), Vec::new());
            }
            let i = rng.below(nl.len() - 1);
            b.drain(nl[i] + 1..=nl[i + 1]);
            (format!("line {} deleted", i + 2), b)
        }
        _ if name.ends_with(".tar.gz") => match kind - 11 {
            0 => ("archive concatenated with itself".into(), [bytes, bytes].concat()),
            1 => ("archive followed by garbage".into(), [bytes, b"garbage\n"].concat()),
            2 => {
                let tar = gunzip(bytes);
                let cut = rng.below(tar.len());
                let gz = [gzip(&tar[..cut]), gzip(&tar[cut..])].concat();
                (format!("one tar stream in two gzip members cut at {cut}"), gz)
            }
            3 => {
                let mut tar = gunzip(bytes);
                let at = rng.below(tar.len());
                tar[at] ^= 0x5A;
                (format!("tar byte {at} flipped, recompressed"), gzip(&tar))
            }
            4 => {
                let tar = gunzip(bytes);
                let cut = rng.below(tar.len());
                (format!("tar cut at {cut}, recompressed"), gzip(&tar[..cut]))
            }
            5 => {
                let tar = gunzip(bytes);
                (format!("gzip member cut"), gzip(&tar)[..bytes.len() / 2].to_vec())
            }
            6 => ("plain tar, not compressed".into(), gunzip(bytes)),
            _ => {
                // a part's size in its header made huge
                let mut tar = gunzip(bytes);
                tar[124..135].copy_from_slice(b"77777777777");
                ("a tar header's size made huge".into(), gzip(&tar))
            }
        },
        _ => match kind - 11 {
            0 => {
                let stored = rezip(bytes, &|_, d| d);
                let sheet = stored.windows(9).position(|w| w == b"<sheetData").unwrap_or(stored.len() / 2);
                let mut bad = stored;
                let at = (sheet + 40 + rng.below(200)).min(bad.len() - 1);
                bad[at] = bad[at].wrapping_add(1);
                (format!("stored byte {at} of the sheet changed (CRC-32 fails)"), bad)
            }
            1 => {
                let count = *rng.pick(&["999999999999", "18446744073709551615", "4294967296", "-1"]);
                let edit = move |name: &str, d: Vec<u8>| {
                    if name.ends_with("sharedStrings.xml") {
                        let t = String::from_utf8_lossy(&d).into_owned();
                        match t.find("uniqueCount=\"") {
                            Some(i) => {
                                let at = i + 13;
                                let end = at + t[at..].find('"').unwrap_or(0);
                                format!("{}{count}{}", &t[..at], &t[end..]).into_bytes()
                            }
                            None => d,
                        }
                    } else {
                        d
                    }
                };
                (format!("uniqueCount={count}"), rezip(bytes, &edit))
            }
            2 => {
                let edit = |name: &str, d: Vec<u8>| if name.contains("worksheets/sheet") { replace_in(d, "</sheetData>", r#"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#) } else { d };
                ("a stray cell at XFD1048576".into(), rezip(bytes, &edit))
            }
            3 => {
                let edit = |name: &str, d: Vec<u8>| if name.contains("worksheets/sheet") { d[..d.len() / 2].to_vec() } else { d };
                ("the sheet's XML cut in half (CRC right)".into(), rezip(bytes, &edit))
            }
            4 => {
                let edit = |name: &str, d: Vec<u8>| if name.contains("worksheets/sheet") { replace_in(d, "<row r=\"2\"", "<row r=\"4294967295\"") } else { d };
                ("a row numbered 4294967295".into(), rezip(bytes, &edit))
            }
            5 => {
                let edit = |name: &str, d: Vec<u8>| if name.contains("worksheets/sheet") { replace_in(d, "<dimension ref=\"", "<dimension ref=\"A1:XFD1048576\" x=\"") } else { d };
                ("a dimension of the whole grid".into(), rezip(bytes, &edit))
            }
            6 => {
                let edit = |name: &str, d: Vec<u8>| if name.ends_with("sharedStrings.xml") { replace_in(d, "<si>", &"<si>".repeat(3)) } else { d };
                ("shared strings nested wrong".into(), rezip(bytes, &edit))
            }
            _ => {
                let edit = |name: &str, d: Vec<u8>| if name.contains("worksheets/sheet") { replace_in(d, "t=\"s\"><v>", "t=\"s\"><v>99999999") } else { d };
                ("a shared string index past the end".into(), rezip(bytes, &edit))
            }
        },
    }
}

/// What went wrong with one run, if anything.
fn check(dir: &Path, file: &str, status: Option<i32>, stderr: &str, took: Duration) -> Option<String> {
    let base = Path::new(file).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    if took >= TIMEOUT {
        return Some(format!("no end after {took:?}"));
    }
    if stderr.contains("panicked") {
        return Some(format!("a panic: {}", &stderr[..stderr.len().min(2000)]));
    }
    match status {
        Some(0 | 1) => {
            let summary: serde_json::Value = match std::fs::read_to_string(dir.join("out/summary.json")).map(|t| serde_json::from_str(&t)) {
                Ok(Ok(v)) => v,
                other => return Some(format!("exit {status:?} without a readable summary.json: {other:?}")),
            };
            let Some(inputs) = summary["inputs"].as_array() else { return Some("summary.json lists no inputs".into()) };
            for i in inputs {
                let (rows, acc, rej) = (i["rows"].as_u64(), i["accepted"].as_u64(), i["rejected"].as_u64());
                match (rows, acc, rej) {
                    (Some(r), Some(a), Some(j)) if r == a + j => {}
                    _ => return Some(format!("rows != accepted + rejected for {}: {rows:?} {acc:?} {rej:?}", i["path"])),
                }
            }
            None
        }
        Some(2) if stderr.contains(&base) => None,
        Some(2) => Some(format!("exit 2 without naming {base}: {}", &stderr[..stderr.len().min(2000)])),
        other => Some(format!("exit {other:?}: {}", &stderr[..stderr.len().min(2000)])),
    }
}

/// Runs recon over the demo in `dir` under the memory limit and the timeout.
fn run(dir: &Path, streamed: bool) -> (Option<i32>, String, Duration) {
    let mut cmd = Command::new(bin());
    cmd.args(["run", "--rules", "rules.toml", "--consumption", "consumption", "--incentives", "incentives", "--customers", "customers.csv", "--bills", "bills", "--out", "out"]);
    if streamed {
        cmd.env("RECON_AUTO_STREAMING_BYTES", "1").env("RECON_BLOCK_BYTES", "4096");
    }
    let err_path = dir.join("stderr.txt");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout.txt")).expect("stdout"))
        .stderr(std::fs::File::create(&err_path).expect("stderr"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: MEMORY_LIMIT as libc::rlim_t, rlim_max: MEMORY_LIMIT as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn recon");
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() >= TIMEOUT {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let code = status.code();
    let mut stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if code.is_none() {
        use std::os::unix::process::ExitStatusExt;
        stderr = format!("killed by signal {:?}\n{stderr}", status.signal());
    }
    (code, stderr, took)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("ls") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else if p.extension().is_none_or(|x| x != "py") {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn mutated_demo_inputs_exit_cleanly_or_name_the_file() {
    let demo = repo().join("fixtures/demo");
    let runs = std::env::var("RECON_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RUNS);
    // (the unmutated demo first: the limits are not what fails)
    let base = Work::new();
    copy_dir(&demo, base.dir.path());
    let (code, err, took) = run(base.dir.path(), false);
    assert_eq!(check(base.dir.path(), "rules.toml", code, &err, took), None, "the demo itself");
    assert_eq!(code, Some(1), "{err}");

    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= runs {
                    break;
                }
                let seed = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) | 1;
                let mut rng = Rng(seed);
                let file = *rng.pick(&FILES);
                let original = std::fs::read(demo.join(file)).expect("demo file");
                let (what, bytes) = mutate(&mut rng, file, &original);
                let w = Work::new();
                copy_dir(&demo, w.dir.path());
                std::fs::write(w.path(file), &bytes).expect("write mutation");
                // (one in eight streamed: a streamed run spends about 1.5 s setting up in a debug build)
                let streamed = i % 8 == 7;
                let (code, err, took) = run(w.dir.path(), streamed);
                if std::env::var_os("RECON_MUTATIONS_LOG").is_some() {
                    eprintln!("#{i} {file}: {what}{}: exit {code:?} in {took:?}: {}", if streamed { ", streamed" } else { "" }, err.lines().next().unwrap_or(""));
                }
                if let Some(why) = check(w.dir.path(), file, code, &err, took) {
                    failures.lock().expect("lock").push(format!("#{i} (seed {seed:#x}) {file}: {what}{}: {why}", if streamed { ", streamed" } else { "" }));
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    assert!(failures.is_empty(), "{} of {runs} mutated runs failed ({:?}):\n{}", failures.len(), start.elapsed(), failures.join("\n"));
}
