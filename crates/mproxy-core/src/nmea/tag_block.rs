//! Where a line's TAG block is. A TAG block (NMEA 4.10) sits before the sentence between
//! two backslashes: `\s:rcv1,c:1700000000*5A\!AIVDM,...`. Its contents end with their own
//! `*hh` checksum.

/// Splits a line into its TAG block's contents (between the backslashes, checksum
/// included) and the rest (the sentence and its line ending). A line that does not start
/// with `\`, or whose block is not closed, has no TAG block: it is all sentence.
pub(crate) fn split(line: &[u8]) -> (Option<&[u8]>, &[u8]) {
    if line.first() != Some(&b'\\') {
        return (None, line);
    }
    match line[1..].iter().position(|&b| b == b'\\') {
        Some(end) => (Some(&line[1..1 + end]), &line[2 + end..]),
        None => (None, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_block_is_split_from_its_sentence() {
        let line = b"\\s:rcv1,c:1700000000*5A\\!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n";
        let (tag, rest) = split(line);
        assert_eq!(tag, Some(&b"s:rcv1,c:1700000000*5A"[..]));
        assert_eq!(rest, &b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n"[..]);
    }

    #[test]
    fn lines_without_a_closed_block_are_all_sentence() {
        assert_eq!(split(b"$GPGGA,1*00\n"), (None, &b"$GPGGA,1*00\n"[..]));
        assert_eq!(split(b"\\s:rcv1"), (None, &b"\\s:rcv1"[..]));
        assert_eq!(split(b""), (None, &b""[..]));
        assert_eq!(split(b"\\\\$X"), (Some(&b""[..]), &b"$X"[..]));
    }
}
