//! NMEA 0183 text as sensor feeds carry it: sentences (`$GPGGA,...*hh`, `!AIVDM,...*hh`)
//! one per line, each optionally led by a TAG block (NMEA 4.10: `\s:station,c:1700000000*hh\`).
//!
//! Written here rather than taken from a crate: the NMEA crates on crates.io (`nmea`,
//! `nmea-parser`) decode sentences into typed values and allocate per sentence; the feed
//! stages need only the framing (where the tag block and the checksum are) over borrowed
//! bytes, once per line of a batch.

// Until the feed stages that use it land (they are being written beside this).
#[allow(dead_code)]
pub(crate) mod tag_block;
