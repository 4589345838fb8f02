//! NMEA 0183 text as sensor feeds carry it: sentences (`$GPGGA,...*hh`, `!AIVDM,...*hh`)
//! one per line, each optionally led by a TAG block (NMEA 4.10: `\s:station,c:1700000000*hh\`).
//!
//! Written here rather than taken from a crate: the NMEA crates on crates.io (`nmea`,
//! `nmea-parser`) decode sentences into typed values and allocate per sentence; the feed
//! stages need only the framing (where the tag block and the checksum are, the AIS
//! fragment fields, the MMSI) over borrowed bytes, once per line of a batch.
//!
//! - `tag_block`: where a line's TAG block is;
//! - `checksum`: the `*hh` XOR checksum of sentences and TAG blocks;
//! - `sentence`: a line split into its ending, TAG block and sentence fields;
//! - `ais`: the fields of `!AIVDM`/`!AIVDO` (fragments, channel, payload) and the 6-bit
//!   payload's message type and MMSI.

pub(crate) mod ais;
pub(crate) mod checksum;
pub(crate) mod sentence;
pub(crate) mod tag_block;
