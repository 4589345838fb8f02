//! AIS sentences (`!AIVDM`, other ships; `!AIVDO`, one's own; any talker, `!BSVDM` too):
//! their fragment fields and the 6-bit payload's message type and MMSI (ITU-R M.1371).
//!
//! `!AIVDM,2,1,3,B,<payload>,0*hh`: fragment count 2, fragment number 1, sequential message
//! id 3 (empty for a one-fragment message), radio channel B, payload (6 bits per character),
//! fill bits 0.

use super::sentence::Sentence;

/// The fields of one AIS sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vdm<'a> {
    /// `AIVDM`, `AIVDO`, `BSVDM`, ...
    pub address: &'a [u8],
    /// How many fragments the message has (1 to 9).
    pub count: u8,
    /// Which fragment this is (1 to `count`).
    pub number: u8,
    /// The sequential message id tying fragments together (empty for single ones).
    pub seq: &'a [u8],
    /// The channel letter (`A`, `B`, or `1`/`2`, or empty).
    pub channel: &'a [u8],
    pub payload: &'a [u8],
    pub fill: &'a [u8],
}

fn digit(field: &[u8]) -> Option<u8> {
    match field {
        [d @ b'1'..=b'9'] => Some(d - b'0'),
        _ => None,
    }
}

impl<'a> Vdm<'a> {
    /// The AIS fields of `s`, or `None` when it is not a well-formed VDM/VDO sentence.
    pub(crate) fn parse(s: &Sentence<'a>) -> Option<Vdm<'a>> {
        let mut fields = s.body.split(|&b| b == b',');
        let address = fields.next()?;
        if address.len() != 5 || !(address.ends_with(b"VDM") || address.ends_with(b"VDO")) {
            return None;
        }
        let count = digit(fields.next()?)?;
        let number = digit(fields.next()?)?;
        let seq = fields.next()?;
        let channel = fields.next()?;
        let payload = fields.next()?;
        let fill = fields.next()?;
        if number > count || fields.next().is_some() {
            return None;
        }
        Some(Vdm {
            address,
            count,
            number,
            seq,
            channel,
            payload,
            fill,
        })
    }

    pub(crate) fn is_multipart(&self) -> bool {
        self.count > 1
    }
}

/// The 6-bit value of a payload character (`0`..`W` are 0..39, `` ` ``..`w` 40..63).
fn sixbit(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'W' => Some(u32::from(c - b'0')),
        b'`'..=b'w' => Some(u32::from(c - b'0' - 8)),
        _ => None,
    }
}

/// `bits` bits of the payload from bit `start` on, as a number (at most 32).
fn bits(payload: &[u8], start: usize, count: usize) -> Option<u32> {
    let mut value: u32 = 0;
    for bit in start..start + count {
        let c = sixbit(*payload.get(bit / 6)?)?;
        let b = (c >> (5 - bit % 6)) & 1;
        value = value << 1 | b;
    }
    Some(value)
}

/// The message type (the payload's first 6 bits).
pub(crate) fn message_type(payload: &[u8]) -> Option<u32> {
    bits(payload, 0, 6)
}

/// The MMSI (bits 8 to 37, after the type and the repeat indicator).
pub(crate) fn mmsi(payload: &[u8]) -> Option<u32> {
    bits(payload, 8, 30)
}

/// Position reports: class A (1, 2, 3), class B (18, 19), long range (27).
pub(crate) const POSITION_REPORTS: [u32; 6] = [1, 2, 3, 18, 19, 27];

/// The MMSI of a one-fragment position report; `None` for anything else.
pub(crate) fn position_report_mmsi(vdm: &Vdm<'_>) -> Option<u32> {
    if vdm.is_multipart() {
        return None;
    }
    let kind = message_type(vdm.payload)?;
    if !POSITION_REPORTS.contains(&kind) {
        return None;
    }
    mmsi(vdm.payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nmea::sentence::Line;

    fn vdm(line: &[u8]) -> Option<Vdm<'_>> {
        Line::parse(line).sentence().and_then(|s| Vdm::parse(&s))
    }

    #[test]
    fn position_reports_give_their_mmsi() {
        // Examples of gpsd's AIVDM/AIVDO protocol decoding page, with their decoded MMSIs.
        let class_a = b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n";
        let v = vdm(class_a);
        assert_eq!(
            v.map(|v| (v.count, v.number, v.channel)),
            Some((1, 1, &b"B"[..]))
        );
        assert_eq!(v.and_then(|v| message_type(v.payload)), Some(1));
        assert_eq!(v.and_then(|v| position_report_mmsi(&v)), Some(477553000));
        let class_b = b"!AIVDM,1,1,,A,B52K>;h00Fc>jpUlNV@ikwpUoP06,0*4C";
        let v = vdm(class_b);
        assert_eq!(v.and_then(|v| message_type(v.payload)), Some(18));
        assert_eq!(v.and_then(|v| position_report_mmsi(&v)), Some(338087471));
        // A base station report (type 4) is not a position report of a ship.
        let base = b"!AIVDM,1,1,,A,403OviQuMGCqWrRO9>E6fE700@GO,0*4D";
        let v = vdm(base);
        assert_eq!(v.and_then(|v| message_type(v.payload)), Some(4));
        assert_eq!(v.and_then(|v| mmsi(v.payload)), Some(3669702));
        assert_eq!(v.and_then(|v| position_report_mmsi(&v)), None);
    }

    #[test]
    fn multipart_fields_are_read() {
        // gpsd's type 5 (static and voyage data) example, in two fragments.
        let first =
            b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C";
        let second = b"!AIVDM,2,2,1,A,88888888880,2*25";
        let a = vdm(first).unwrap_or_else(|| unreachable!());
        let b = vdm(second).unwrap_or_else(|| unreachable!());
        assert_eq!(
            (a.count, a.number, a.seq, a.channel),
            (2, 1, &b"1"[..], &b"A"[..])
        );
        assert_eq!((b.count, b.number, b.fill), (2, 2, &b"2"[..]));
        assert!(a.is_multipart());
        assert_eq!(message_type(a.payload), Some(5));
        assert_eq!(mmsi(a.payload), Some(351759000));
        assert_eq!(position_report_mmsi(&a), None);
    }

    #[test]
    fn malformed_ais_is_not_ais() {
        assert_eq!(vdm(b"$GPGGA,1,2,3,4,5,6*00"), None);
        assert_eq!(vdm(b"!AIVDM,1,2,,A,13u,0*00"), None);
        assert_eq!(vdm(b"!AIVDM,0,1,,A,13u,0*00"), None);
        assert_eq!(vdm(b"!AIVDM,1,1,,A,13u*00"), None);
        assert_eq!(vdm(b"!AIVDM,1,1,,A,13u,0,x*00"), None);
        // A payload too short for an MMSI, or with a character outside the 6-bit set.
        assert_eq!(mmsi(b"13u?"), None);
        assert_eq!(mmsi(b"13u~etPv"), None);
    }
}
