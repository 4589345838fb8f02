//! Instruction counts of mproxy's hot paths, measured by Callgrind through iai-callgrind
//! (`benches/hot_paths.rs`): a count does not move with the load of a shared machine, so a
//! change of a few percent shows where a timed benchmark's spread would hide it. Run with
//! `npm run bench -- --only instructions` (or `cargo bench -p mproxy-bench`), which needs
//! valgrind and `iai-callgrind-runner` of the same version as the library.
//!
//! This library holds the inputs the benchmarks share: AIS-like lines and batches of them.

use mproxy_core::Batch;

/// An AIS position report as a receiver sends it, with its line ending (49 bytes).
pub const AIS_LINE: &[u8] = b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n";

/// `n` lines of text, each an AIS sentence whose payload differs (as a feed's do).
pub fn ais_text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * AIS_LINE.len());
    for i in 0..n {
        let mut line = AIS_LINE.to_vec();
        // Vary five payload characters so no two lines are the same.
        for (k, byte) in line[14..19].iter_mut().enumerate() {
            *byte = b'0' + ((i >> (k * 3)) & 7) as u8;
        }
        out.extend_from_slice(&line);
    }
    out
}

/// A batch of `n` datagrams of `size` bytes, every fourth one starting with `$GPGGA` and the
/// rest with `!AIVDM` (so a prefix rule keeps three in four).
pub fn mixed_batch(n: usize, size: usize) -> Batch {
    let mut batch = Batch::with_capacity(n * size, n);
    let mut datagram = vec![b'x'; size];
    for i in 0..n {
        let head: &[u8] = if i % 4 == 0 { b"$GPGGA" } else { b"!AIVDM" };
        datagram[..head.len()].copy_from_slice(head);
        batch.push(&datagram);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inputs_are_what_the_benchmarks_say() {
        let text = ais_text(100);
        assert_eq!(text.len(), 100 * AIS_LINE.len());
        let lines: std::collections::HashSet<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 100);
        let batch = mixed_batch(64, 100);
        assert_eq!(batch.datagram_count(), 64);
        assert_eq!(
            batch
                .datagrams()
                .filter(|d| d.starts_with(b"!AIVDM"))
                .count(),
            48
        );
    }
}
