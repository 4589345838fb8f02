//! One line of a feed taken apart: its line ending (kept as it came, `\r\n` or `\n`), its
//! TAG block, and its sentence (`$` or `!`, the fields, the `*hh` checksum text).

use super::tag_block;

/// Splits the line ending (`\r\n`, `\n`, or none on a last line) off `line`.
pub(crate) fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
    }
    line.split_at(end)
}

/// A sentence: `$GPGGA,...*47` or `!AIVDM,...*5C`, without its line ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sentence<'a> {
    /// The bytes between the start character and the `*` (or the end): what the checksum
    /// covers.
    pub body: &'a [u8],
    /// The text after the `*` (`None`: no `*`).
    pub checksum: Option<&'a [u8]>,
}

impl<'a> Sentence<'a> {
    /// Reads a sentence from `text` (no line ending, no TAG block); `None` when it does not
    /// start with `$` or `!`.
    pub(crate) fn parse(text: &'a [u8]) -> Option<Sentence<'a>> {
        let (&start, rest) = text.split_first()?;
        if start != b'$' && start != b'!' {
            return None;
        }
        Some(match rest.iter().rposition(|&b| b == b'*') {
            Some(star) => Sentence {
                body: &rest[..star],
                checksum: Some(&rest[star + 1..]),
            },
            None => Sentence {
                body: rest,
                checksum: None,
            },
        })
    }

    /// The address field: talker and type, `GPGGA`, `AIVDM`.
    pub(crate) fn address(&self) -> &'a [u8] {
        let end = self.body.iter().position(|&b| b == b',');
        &self.body[..end.unwrap_or(self.body.len())]
    }
}

/// A line taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// The TAG block's contents (between the backslashes), if any.
    pub tag: Option<&'a [u8]>,
    /// What follows the TAG block, without the line ending.
    pub text: &'a [u8],
    pub ending: &'a [u8],
}

impl<'a> Line<'a> {
    pub(crate) fn parse(line: &'a [u8]) -> Line<'a> {
        let (content, ending) = split_ending(line);
        let (tag, text) = tag_block::split(content);
        Line { tag, text, ending }
    }

    /// Whether there is nothing but spaces or tabs before the line ending.
    pub(crate) fn is_blank(&self) -> bool {
        self.tag.is_none() && self.text.iter().all(|b| *b == b' ' || *b == b'\t')
    }

    pub(crate) fn sentence(&self) -> Option<Sentence<'a>> {
        Sentence::parse(self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_its_tag_block_sentence_and_ending() {
        let line = Line::parse(b"\\s:r1*00\\!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n");
        assert_eq!(line.tag, Some(&b"s:r1*00"[..]));
        assert_eq!(line.ending, b"\r\n");
        let s = line.sentence();
        assert_eq!(
            s,
            Some(Sentence {
                body: b"AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0",
                checksum: Some(b"23"),
            })
        );
        assert_eq!(s.map(|s| s.address()), Some(&b"AIVDM"[..]));
        assert_eq!(Line::parse(b"$GPGGA,1\n").ending, b"\n");
        assert_eq!(Line::parse(b"$GPGGA,1").ending, b"");
        assert_eq!(
            Line::parse(b"$GPGGA").sentence().map(|s| s.address()),
            Some(&b"GPGGA"[..])
        );
        assert_eq!(Line::parse(b"hello\n").sentence(), None);
        assert!(Line::parse(b" \r\n").is_blank());
        assert!(!Line::parse(b"x\n").is_blank());
        assert_eq!(split_ending(b"\r"), (&b"\r"[..], &b""[..]));
    }
}
