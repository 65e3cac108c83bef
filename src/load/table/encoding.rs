//! The text encoding of a CSV: UTF-8 (checked with a vector check, in parallel pieces for a
//! large file), UTF-8 with a byte order mark, else GBK/GB18030; and the line an undecodable
//! byte is on.

use crate::load::LoadError;

/// Decodes CSV bytes: UTF-8 (BOM stripped) when valid, else GB18030 (a superset of GBK). Valid
/// UTF-8 is used in place; returns the text and where it starts in it (after a BOM).
pub(super) fn decode(bytes: Vec<u8>, label: &str) -> Result<(Vec<u8>, usize, &'static str), LoadError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match utf8(rest) {
            Ok(_) => Ok((bytes, 3, "UTF-8 with BOM")),
            Err(bad) => Err(undecodable(rest, bad, label, "UTF-8 (the file starts with a UTF-8 byte order mark)")),
        };
    }
    let utf8_valid_up_to = match utf8(&bytes) {
        Ok(_) => return Ok((bytes, 0, "UTF-8")),
        Err(bad) => bad,
    };
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
    if !had_errors {
        return Ok((text.into_owned().into_bytes(), 0, "GBK"));
    }
    // Find the first line GB18030 cannot decode, to name it.
    let offset = first_gbk_error_line(&bytes);
    // Name the line that defeats the more plausible reading: a UTF-8 file with one bad byte
    // decodes as UTF-8 further than as GBK, and the other way round.
    Err(undecodable(&bytes, offset.max(utf8_valid_up_to), label, "UTF-8 or GBK"))
}

pub(super) fn undecodable(bytes: &[u8], offset: usize, label: &str, expected: &str) -> LoadError {
    let line = bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1;
    LoadError::Undecodable { path: label.to_string(), line, expected: expected.to_string() }
}

/// Where the first line of `bytes` that GB18030 cannot decode starts (`bytes.len()` and past
/// when every line decodes).
pub(super) fn first_gbk_error_line(bytes: &[u8]) -> usize {
    let mut offset = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(line).is_none() {
            break;
        }
        offset += line.len() + 1;
    }
    offset
}

/// `bytes` as text, or `Err(offset)` of its first byte that is not UTF-8. simdutf8's vector
/// check (several times std's speed on this mix of ASCII and Chinese); std's own only to name
/// the offset once a check has failed.
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, usize> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => Err(std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), |t| t.len())),
    }
}

/// `Err(offset)` of the first byte that is not UTF-8 in `bytes`, checked in parallel pieces of
/// about `piece` bytes, each cut before the first byte of a character.
pub(super) fn utf8_check(bytes: &[u8], piece: usize) -> Result<(), usize> {
    use rayon::prelude::*;
    let mut cuts = vec![0];
    let mut at = piece.max(1);
    while at < bytes.len() {
        let c = char_start(bytes, at);
        cuts.push(c);
        at = c + piece.max(1);
    }
    cuts.push(bytes.len());
    cuts.dedup();
    let bad = cuts.par_windows(2).filter_map(|w| utf8(&bytes[w[0]..w[1]]).err().map(|bad| w[0] + bad)).min();
    bad.map_or(Ok(()), Err)
}

/// `at`, moved past the continuation bytes there to the first byte of a character (or the end).
/// A character is at most 4 bytes: past 3 continuation bytes the text is not UTF-8, and a check
/// that starts there fails.
pub(super) fn char_start(bytes: &[u8], at: usize) -> usize {
    let mut c = at;
    while c < bytes.len() && c < at + 3 && bytes[c] & 0xC0 == 0x80 {
        c += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::{utf8, utf8_check};

    fn whole(bytes: &[u8]) -> Result<(), usize> {
        std::str::from_utf8(bytes).map(|_| ()).map_err(|e| e.valid_up_to())
    }

    #[test]
    fn pieces_cut_inside_characters_still_read_as_utf8() {
        let text = "账期,客户ID\n2026-10,é😀x\n".repeat(5);
        for piece in 1..12 {
            assert_eq!(utf8_check(text.as_bytes(), piece), Ok(()), "piece {piece}");
        }
        let mut gbk = text.into_bytes();
        gbk[40] = 0xB9; // a lone lead byte of GBK
        for piece in 1..12 {
            assert_eq!(utf8_check(&gbk, piece), whole(&gbk), "piece {piece}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_parallel_check_agrees_with_one_over_the_whole(bytes in proptest::collection::vec(proptest::prop_oneof![0x20u8..0x7f, 0x80u8..0xc0, 0xc2u8..0xf5, proptest::strategy::Just(0xffu8)], 0..64), piece in 1usize..20) {
            proptest::prop_assert_eq!(utf8_check(&bytes, piece).is_ok(), whole(&bytes).is_ok());
        }

        #[test]
        fn the_vector_check_names_the_offset_std_names(bytes in proptest::collection::vec(proptest::prop_oneof![0x20u8..0x7f, 0x80u8..0xc0, 0xc2u8..0xf5, proptest::strategy::Just(0xffu8)], 0..200)) {
            proptest::prop_assert_eq!(utf8(&bytes).map(|_| ()), whole(&bytes));
        }

        #[test]
        fn valid_text_is_utf8_in_any_pieces(text in "\\PC{0,40}", piece in 1usize..20) {
            proptest::prop_assert_eq!(utf8_check(text.as_bytes(), piece), Ok(()));
        }
    }
}
