//! The checksum stage: every line's NMEA `*hh` (and its TAG block's) checked; a line with
//! a wrong or missing one is counted (`badChecksum`) and, in `drop` mode, dropped. Blank
//! lines are not sentences and pass uncounted; any other line that is not a `$`/`!`
//! sentence has no checksum, so it counts as missing.

use crate::nmea::checksum::{split_tag, verdict, Verdict};
use crate::nmea::sentence::Line;

/// What the stage does with a line whose checksum is wrong or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumMode {
    /// Drop it (and count it).
    Drop,
    /// Pass it on (and count it).
    Count,
}

/// Whether every checksum of `line` (its TAG block's, its sentence's) is right.
pub(crate) fn is_right(line: &[u8]) -> bool {
    let parts = Line::parse(line);
    if parts.is_blank() {
        return true;
    }
    if let Some(tag) = parts.tag {
        let (fields, sum) = split_tag(tag);
        if verdict(fields, sum) != Verdict::Right {
            return false;
        }
    }
    match parts.sentence() {
        Some(s) => verdict(s.body, s.checksum) == Verdict::Right,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_and_tag_blocks_are_both_checked() {
        assert!(is_right(
            b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n"
        ));
        assert!(!is_right(
            b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5D\r\n"
        ));
        assert!(!is_right(b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0\n"));
        assert!(is_right(
            b"\\s:kplex,c:1423133048*5F\\!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n"
        ));
        assert!(!is_right(
            b"\\s:kplex,c:1423133049*5F\\!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n"
        ));
        assert!(!is_right(
            b"\\s:kplex\\!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n"
        ));
        assert!(!is_right(b"hello\n"));
        assert!(is_right(b"\r\n"));
    }
}
