//! The NMEA 0183 checksum: `*hh` after a sentence (or a TAG block's contents), two hex
//! digits of the XOR of every byte between the start character (`$`, `!`, or the TAG
//! block's `\`) and the `*`.

/// The XOR of `bytes`.
pub(crate) fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// What a text's checksum says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Right,
    Wrong,
    /// No `*`, or not two hex digits after it.
    Missing,
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Reads `hh` (either case).
pub(crate) fn parse_hex(text: &[u8]) -> Option<u8> {
    match text {
        [h, l] => Some(hex_value(*h)? << 4 | hex_value(*l)?),
        _ => None,
    }
}

/// Checks `body` against its checksum text (`None`: there was no `*`).
pub(crate) fn verdict(body: &[u8], checksum: Option<&[u8]>) -> Verdict {
    match checksum.and_then(parse_hex) {
        None => Verdict::Missing,
        Some(expected) if expected == xor(body) => Verdict::Right,
        Some(_) => Verdict::Wrong,
    }
}

/// Splits a TAG block's contents (`s:rcv1,c:1*hh`) at its last `*`: the fields and the
/// checksum text (`None` without a `*`).
pub(crate) fn split_tag(contents: &[u8]) -> (&[u8], Option<&[u8]>) {
    match contents.iter().rposition(|&b| b == b'*') {
        Some(star) => (&contents[..star], Some(&contents[star + 1..])),
        None => (contents, None),
    }
}

/// Appends `*HH` (upper case, as NMEA writes it) for `body` to `out`.
pub(crate) fn append(out: &mut Vec<u8>, body_sum: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'*');
    out.push(HEX[(body_sum >> 4) as usize]);
    out.push(HEX[(body_sum & 15) as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_wrong_and_missing_checksums() {
        // gpsd's AIVDM examples and a GGA from the NMEA spec's examples.
        let body = b"AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0";
        assert_eq!(xor(body), 0x5C);
        assert_eq!(verdict(body, Some(b"5C")), Verdict::Right);
        assert_eq!(verdict(body, Some(b"5c")), Verdict::Right);
        assert_eq!(verdict(body, Some(b"5D")), Verdict::Wrong);
        assert_eq!(verdict(body, Some(b"5")), Verdict::Missing);
        assert_eq!(verdict(body, Some(b"5CX")), Verdict::Missing);
        assert_eq!(verdict(body, Some(b"ZZ")), Verdict::Missing);
        assert_eq!(verdict(body, None), Verdict::Missing);
        let gga = b"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,";
        assert_eq!(verdict(gga, Some(b"47")), Verdict::Right);
    }

    #[test]
    fn tag_block_checksums_split_at_the_last_star() {
        // kplex's documented tag block.
        let (fields, sum) = split_tag(b"s:kplex,c:1423133048*5F");
        assert_eq!(fields, b"s:kplex,c:1423133048");
        assert_eq!(verdict(fields, sum), Verdict::Right);
        assert_eq!(split_tag(b"s:x"), (&b"s:x"[..], None));
        let mut out = b"s:kplex,c:1423133048".to_vec();
        let sum = xor(&out);
        append(&mut out, sum);
        assert_eq!(out, b"s:kplex,c:1423133048*5F");
    }
}
