#![no_main]

// The rules parser and validator on any text: an error is fine, a panic is the bug.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = recon::rules::RuleSet::from_toml(text, "rules.toml");
    }
});
