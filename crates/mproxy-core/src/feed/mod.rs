//! Input stages for sensor feeds (NMEA 0183, AIS): run in the core once per batch, after
//! the sources and before the fan-out to every output, on every input of the route (UDP
//! listeners, TCP inputs, kept connections, files and devices, `send()`). In order:
//! checksum (`checksum`), tag add (`tag`), dedup (`dedup`), throttle (`throttle`).
//!
//! Each works per line: a datagram may hold several lines (packed framing); each line is
//! kept or dropped on its own and the datagram is rebuilt from the kept ones, line endings
//! as they came; a datagram left with no line is not sent (its lines are counted by the
//! stage that took them). Each stage is an endpoint of kind `stage` in the stats, named
//! after it, whose `datagramsIn`/`datagramsOut` count lines (in, and passed on) and whose
//! own counters say what it did: `badChecksum`; `duplicates`, `multipartIncomplete`,
//! `evicted`; `throttled`, `evicted`. What a stage drops it has chosen to (like a rule's
//! `filtered`): not a loss, and said once in the log.
//!
//! The binding hands the stages over as the option schema returns them (`InputStagesSpec`
//! is deserialized with serde from the `checksum`, `tagBlock`, `dedup` and `throttle`
//! options, field names and values as the user writes them), so a new setting of a stage
//! is a schema entry and a field here, with no conversion code between.
//!
//! A route without stages has no [`FeedSink`]: its fan-out is as before, and pays nothing.
//! With stages the sink takes one lock per batch for the stages' shared state (the tables
//! are shared by every input, which is the point of deduplicating across them), and when
//! no line was changed or taken the batch goes on as it came, uncopied.

pub(crate) mod checksum;
pub(crate) mod dedup;
pub(crate) mod table;
pub(crate) mod tag;
pub(crate) mod throttle;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::event::Reporter;
use crate::sink::{Fanout, Sink};
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;

pub use checksum::ChecksumMode;
pub use dedup::DedupSpec;
pub use tag::{TagSpec, TagTime};
pub use throttle::{ThrottleKeep, ThrottleKey, ThrottleSpec};

use dedup::{Dedup, Outcome};
use throttle::{Throttle, Verdict};

/// The input stages of a route; each absent one is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputStagesSpec {
    pub checksum: Option<ChecksumMode>,
    #[serde(rename = "tagBlock")]
    pub tag: Option<TagSpec>,
    pub dedup: Option<DedupSpec>,
    pub throttle: Option<ThrottleSpec>,
}

/// The longest window or interval a stage takes (the schema's bound: a day).
const MAX_SECONDS: f64 = 86_400.0;

/// A time in seconds as the schema gives it (a number; `0.5`), within a stage's bounds.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let s = <f64 as serde::Deserialize>::deserialize(d)?;
    if !(s > 0.0 && s <= MAX_SECONDS) {
        return Err(serde::de::Error::custom(format!(
            "{s} is not a number of seconds from more than 0 to {MAX_SECONDS}"
        )));
    }
    Ok(Duration::from_secs_f64(s))
}

impl InputStagesSpec {
    pub fn is_empty(&self) -> bool {
        self.checksum.is_none()
            && self.tag.is_none()
            && self.dedup.is_none()
            && self.throttle.is_none()
    }

    /// What the schema checks too, as a last line of defence: one line, naming the option.
    pub fn check(&self) -> Result<()> {
        if let Some(tag) = &self.tag {
            if tag.station.is_none() && tag.time.is_none() {
                return Err(Error::invalid("tagBlock: give station and/or time"));
            }
            if let Some(problem) = tag.station.as_deref().and_then(TagSpec::station_problem) {
                return Err(Error::invalid(format!("tagBlock.station: {problem}")));
            }
        }
        if self.dedup.is_some_and(|d| d.window.is_zero()) {
            return Err(Error::invalid("dedup.window: must be more than 0 seconds"));
        }
        if self.throttle.is_some_and(|t| t.interval.is_zero()) {
            return Err(Error::invalid(
                "throttle.interval: must be more than 0 seconds",
            ));
        }
        Ok(())
    }
}

/// Lines and bytes into a stage and passed on by it, added up over a batch.
#[derive(Default, Clone, Copy)]
struct Flow {
    lines_in: u64,
    bytes_in: u64,
    lines_out: u64,
    bytes_out: u64,
}

impl Flow {
    fn take(&mut self, bytes: usize) {
        self.lines_in += 1;
        self.bytes_in += bytes as u64;
    }
    fn give(&mut self, bytes: usize) {
        self.lines_out += 1;
        self.bytes_out += bytes as u64;
    }
    fn flush(&mut self, e: &Endpoint) {
        if self.lines_in > 0 {
            e.counters.add_in(self.lines_in, self.bytes_in);
        }
        if self.lines_out > 0 {
            e.counters.add_out(self.lines_out, self.bytes_out);
        }
        *self = Flow::default();
    }
}

/// A stage's endpoint, what passed it in the batch, and whether it has said what it drops.
struct Stage<S> {
    work: S,
    endpoint: Arc<Endpoint>,
    flow: Flow,
    said: bool,
    said_full: bool,
}

impl<S> Stage<S> {
    fn new(work: S, name: &str, registry: &Registry) -> Stage<S> {
        Stage {
            work,
            endpoint: registry.register("stage", name),
            flow: Flow::default(),
            said: false,
            said_full: false,
        }
    }
}

struct ChecksumWork {
    mode: ChecksumMode,
    bad: u64,
}

struct TagWork {
    station: Option<Vec<u8>>,
    time: Option<TagTime>,
}

struct Stages {
    checksum: Option<Stage<ChecksumWork>>,
    tag: Option<Stage<TagWork>>,
    dedup: Option<Stage<Dedup>>,
    throttle: Option<Stage<Throttle>>,
    /// The batch being rebuilt, a tagged line, this batch's `c:` value.
    out: Batch,
    tagged: Vec<u8>,
    time: Vec<u8>,
}

impl Stages {
    /// Runs one line through the stages, appending what passes to `out`; true when the
    /// line was changed or taken (the batch cannot go on as it came).
    fn line(&mut self, line: &[u8], from: Option<SocketAddr>, now: Instant) -> bool {
        if let Some(c) = &mut self.checksum {
            c.flow.take(line.len());
            if !checksum::is_right(line) {
                c.work.bad += 1;
                if c.work.mode == ChecksumMode::Drop {
                    return true;
                }
            }
            c.flow.give(line.len());
        }
        let mut changed = false;
        let line: &[u8] = match &mut self.tag {
            Some(t) => {
                t.flow.take(line.len());
                let time = t.work.time.map(|_| &self.time[..]);
                let line = if tag::add(line, t.work.station.as_deref(), time, &mut self.tagged) {
                    changed = true;
                    &self.tagged[..]
                } else {
                    line
                };
                t.flow.give(line.len());
                line
            }
            None => line,
        };
        if let Some(d) = &mut self.dedup {
            d.flow.take(line.len());
            match d.work.judge(line, from, now) {
                Outcome::Pass => d.flow.give(line.len()),
                Outcome::Taken => return true,
                Outcome::Released(fragments) => {
                    for f in &fragments {
                        d.flow.give(f.len());
                        if let Some(t) = &mut self.throttle {
                            // A multipart message passes the throttle whole (see throttle.rs),
                            // unless it drops what its key does not apply to.
                            t.flow.take(f.len());
                            if t.work.drop_other() {
                                continue;
                            }
                            t.flow.give(f.len());
                        }
                        self.out.buf.extend_from_slice(f);
                    }
                    return true;
                }
            }
        }
        if let Some(t) = &mut self.throttle {
            t.flow.take(line.len());
            match t.work.judge(line, from, now) {
                Verdict::Pass => t.flow.give(line.len()),
                Verdict::Taken => return true,
            }
        }
        self.out.buf.extend_from_slice(line);
        changed
    }

    /// Runs a batch through; true when `out` (not the batch) is what goes on.
    fn batch(&mut self, batch: &Batch, now: Instant, wall: SystemTime) -> bool {
        if let Some(t) = &self.tag {
            if let Some(unit) = t.work.time {
                self.time.clear();
                self.time
                    .extend_from_slice(tag::time_text(unit, wall).as_bytes());
            }
        }
        self.out.clear();
        let mut changed = false;
        for e in &batch.entries {
            let bytes = batch.entry_bytes(e);
            let step = if e.segment == 0 {
                bytes.len().max(1)
            } else {
                e.segment
            };
            for datagram in bytes.chunks(step) {
                let start = self.out.buf.len();
                for line in datagram.split_inclusive(|&b| b == b'\n') {
                    changed |= self.line(line, e.from, now);
                }
                let len = self.out.buf.len() - start;
                if len > 0 {
                    self.out.entries.push(crate::batch::Entry {
                        offset: start,
                        len,
                        segment: 0,
                        from: e.from,
                    });
                }
            }
            if bytes.is_empty() {
                // An empty datagram has no line to judge: it goes on as it came.
                self.out.push_from(b"", e.from);
            }
        }
        changed
    }

    /// Adds the batch's flows and tallies to the endpoints, and says once what each stage
    /// drops.
    fn account(&mut self, reporter: &Reporter) {
        if let Some(c) = &mut self.checksum {
            c.flow.flush(&c.endpoint);
            if c.work.bad > 0 {
                Counters::add(&c.endpoint.counters.bad_checksum, c.work.bad);
                c.work.bad = 0;
                if !c.said {
                    c.said = true;
                    reporter.info(match c.work.mode {
                        ChecksumMode::Drop => "checksum stage: lines with a wrong or missing NMEA checksum are dropped (counted as badChecksum in the stats)",
                        ChecksumMode::Count => "checksum stage: lines with a wrong or missing NMEA checksum arrive; they are passed on and counted (badChecksum)",
                    });
                }
            }
        }
        if let Some(t) = &mut self.tag {
            t.flow.flush(&t.endpoint);
        }
        if let Some(d) = &mut self.dedup {
            d.flow.flush(&d.endpoint);
            let tally = std::mem::take(&mut d.work.tally);
            let c = &d.endpoint.counters;
            Counters::add(&c.duplicates, tally.duplicates);
            Counters::add(&c.multipart_incomplete, tally.incomplete);
            Counters::add(&c.evicted, tally.evicted);
            if (tally.duplicates > 0 || tally.incomplete > 0) && !d.said {
                d.said = true;
                reporter.info("dedup stage: messages seen within the window are dropped (counted as duplicates), and so are incomplete AIS multipart messages (multipartIncomplete)");
            }
            if tally.evicted > 0 && !d.said_full {
                d.said_full = true;
                reporter.warn(format!(
                    "dedup stage: its tables are full ({} messages, {} multipart messages or {} bytes of fragments); the oldest entries are evicted (counted as evicted)",
                    dedup::SEEN_ENTRIES, dedup::ASSEMBLY_ENTRIES, dedup::ASSEMBLY_BYTES
                ));
            }
        }
        if let Some(t) = &mut self.throttle {
            t.flow.flush(&t.endpoint);
            let tally = std::mem::take(&mut t.work.tally);
            let c = &t.endpoint.counters;
            Counters::add(&c.throttled, tally.throttled);
            Counters::add(&c.evicted, tally.evicted);
            if tally.throttled > 0 && !t.said {
                t.said = true;
                reporter.info("throttle stage: lines past one per key per interval are dropped (counted as throttled)");
            }
            if tally.evicted > 0 && !t.said_full {
                t.said_full = true;
                reporter.warn(format!(
                    "throttle stage: its table is full ({} keys or {} bytes); the oldest keys are evicted (counted as evicted)",
                    throttle::THROTTLE_ENTRIES, throttle::THROTTLE_BYTES
                ));
            }
        }
    }

    /// With `throttle.keep: latest`: the held lines as a batch (one line per datagram), in
    /// `out`; false when none is held.
    fn take_held(&mut self) -> bool {
        let Some(t) = &mut self.throttle else {
            return false;
        };
        let held = t.work.take_held();
        self.out.clear();
        for (line, from) in &held {
            t.flow.give(line.len());
            self.out.push_from(line, *from);
        }
        !held.is_empty()
    }
}

struct Shared {
    inner: Fanout,
    stages: Mutex<Stages>,
    reporter: Reporter,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Stages> {
        self.stages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends what `latest` holds (the end of an interval, or the stop).
    fn flush_held(&self) {
        let mut stages = self.lock();
        if stages.take_held() {
            self.inner.deliver(&stages.out);
        }
        stages.account(&self.reporter);
    }
}

/// The stages in front of a route's fan-out.
pub(crate) struct FeedSink {
    shared: Arc<Shared>,
}

impl FeedSink {
    /// The stages of `spec` in front of `inner`; with `throttle.keep: latest`, also the
    /// thread that sends what it holds at the end of each interval (until `stop`).
    pub(crate) fn start(
        spec: &InputStagesSpec,
        inner: Fanout,
        registry: &Registry,
        reporter: Reporter,
        stop: StopToken,
    ) -> Result<(FeedSink, Option<JoinHandle<()>>)> {
        FeedSink::build(spec, None, inner, registry, reporter, stop)
    }

    /// One output's own dedup stage (its shaping's `dedup`), in front of that output: its
    /// endpoint is named after the output (`127.0.0.1:9000 dedup`).
    pub(crate) fn for_output(
        dedup: DedupSpec,
        output: &str,
        inner: Arc<dyn Sink>,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<FeedSink> {
        let spec = InputStagesSpec {
            dedup: Some(dedup),
            ..Default::default()
        };
        // Dedup alone has no timer: nothing to stop.
        let (sink, _no_timer) = FeedSink::build(
            &spec,
            Some(output),
            Fanout::new(vec![inner]),
            registry,
            reporter,
            StopToken::new(),
        )?;
        Ok(sink)
    }

    fn build(
        spec: &InputStagesSpec,
        output: Option<&str>,
        inner: Fanout,
        registry: &Registry,
        reporter: Reporter,
        stop: StopToken,
    ) -> Result<(FeedSink, Option<JoinHandle<()>>)> {
        spec.check()?;
        let name = |stage: &str| match output {
            Some(o) => format!("{o} {stage}"),
            None => stage.to_string(),
        };
        let stages = Stages {
            checksum: spec
                .checksum
                .map(|mode| Stage::new(ChecksumWork { mode, bad: 0 }, &name("checksum"), registry)),
            tag: spec.tag.as_ref().map(|t| {
                let work = TagWork {
                    station: t.station.as_ref().map(|s| s.as_bytes().to_vec()),
                    time: t.time,
                };
                Stage::new(work, &name("tag"), registry)
            }),
            dedup: spec
                .dedup
                .map(|d| Stage::new(Dedup::new(&d), &name("dedup"), registry)),
            throttle: spec
                .throttle
                .map(|t| Stage::new(Throttle::new(&t), &name("throttle"), registry)),
            out: Batch::default(),
            tagged: Vec::new(),
            time: Vec::new(),
        };
        let latest = stages
            .throttle
            .as_ref()
            .filter(|t| t.work.keeps_latest())
            .map(|t| t.work.interval());
        let shared = Arc::new(Shared {
            inner,
            stages: Mutex::new(stages),
            reporter,
        });
        let thread = match latest {
            Some(interval) => Some(start_timer(shared.clone(), interval, stop)?),
            None => None,
        };
        Ok((FeedSink { shared }, thread))
    }
}

fn start_timer(shared: Arc<Shared>, interval: Duration, stop: StopToken) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("mproxy-throttle".into())
        .spawn(move || {
            while stop.sleep(interval) {
                shared.flush_held();
            }
        })
        .map_err(|e| Error::os("cannot start the throttle stage's timer", &e))
}

impl Sink for FeedSink {
    fn deliver(&self, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut stages = self.shared.lock();
        let changed = stages.batch(batch, now, wall);
        if changed {
            if !stages.out.is_empty() {
                self.shared.inner.deliver(&stages.out);
            }
        } else {
            self.shared.inner.deliver(batch);
        }
        stages.account(&self.shared.reporter);
    }

    /// After every source stopped: what `latest` holds is sent, multipart messages still
    /// being reassembled are counted as incomplete; then the outputs finish.
    fn finish(&self) {
        self.shared.flush_held();
        {
            let mut stages = self.shared.lock();
            if let Some(d) = &mut stages.dedup {
                d.work.finish();
            }
            stages.account(&self.shared.reporter);
        }
        self.shared.inner.finish();
    }

    fn reopen(&self) {
        self.shared.inner.reopen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::throttle::ThrottleOthers;

    use crate::sink::test_sinks::Keep;

    fn feed(spec: InputStagesSpec) -> (FeedSink, Arc<Keep>, Registry, StopToken) {
        let keep = Arc::new(Keep::default());
        let registry = Registry::default();
        let stop = StopToken::new();
        let started = FeedSink::start(
            &spec,
            Fanout::new(vec![keep.clone()]),
            &registry,
            Reporter::silent(),
            stop.clone(),
        );
        match started {
            Ok((sink, None)) => (sink, keep, registry, stop),
            Ok((_, Some(_))) => unreachable!("no timer without latest"),
            Err(e) => unreachable!("{}", e.message),
        }
    }

    fn counts(registry: &Registry) -> Vec<(String, u64, u64, u64, u64, u64, u64)> {
        registry
            .snapshot()
            .into_iter()
            .map(|e| {
                let c = e.counters;
                let what = c.bad_checksum + c.duplicates + c.throttled;
                (
                    e.name,
                    c.datagrams_in,
                    c.datagrams_out,
                    what,
                    c.multipart_incomplete,
                    c.evicted,
                    c.bytes_in,
                )
            })
            .collect()
    }

    const GOOD: &str = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n";
    const GOOD_B: &str = "!AIVDM,1,1,,A,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5F\r\n";
    const BAD: &str = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*00\r\n";

    #[test]
    fn packed_datagrams_are_rebuilt_from_their_kept_lines() {
        let spec = InputStagesSpec {
            checksum: Some(ChecksumMode::Drop),
            dedup: Some(DedupSpec {
                window: Duration::from_secs(30),
            }),
            ..Default::default()
        };
        let (sink, keep, registry, _) = feed(spec);
        let from = Some(SocketAddr::from(([192, 0, 2, 1], 5)));
        let mut batch = Batch::default();
        batch.push_from(format!("{GOOD}{BAD}$GPGGA,1*00\n").as_bytes(), from);
        batch.push_from(format!("{GOOD_B}{BAD}").as_bytes(), from);
        batch.push_from(b"", from);
        sink.deliver(&batch);
        // The second datagram had a duplicate and a bad line: it is not sent; the empty one is.
        assert_eq!(keep.texts(), vec![GOOD.to_string(), String::new()]);
        assert_eq!(
            counts(&registry),
            vec![
                (
                    "checksum".into(),
                    5,
                    2,
                    3,
                    0,
                    0,
                    (3 * GOOD.len() + BAD.len() + 12) as u64
                ),
                ("dedup".into(), 2, 1, 1, 0, 0, (2 * GOOD.len()) as u64),
            ]
        );
        // A batch whose lines all pass goes on as it came.
        let mut plain = Batch::default();
        plain.push(b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\n");
        sink.deliver(&plain);
        assert_eq!(keep.texts().len(), 3);
    }

    #[test]
    fn a_multipart_message_released_by_dedup_is_dropped_by_throttle_others() {
        let spec = InputStagesSpec {
            dedup: Some(DedupSpec {
                window: Duration::from_secs(30),
            }),
            throttle: Some(ThrottleSpec {
                key: ThrottleKey::Mmsi,
                interval: Duration::from_secs(30),
                others: ThrottleOthers::Drop,
                ..Default::default()
            }),
            ..Default::default()
        };
        let (sink, keep, registry, _) = feed(spec);
        let mut batch = Batch::default();
        batch.push(
            b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n",
        );
        batch.push(b"!AIVDM,2,2,1,A,88888888880,2*25\n");
        batch.push(GOOD.as_bytes());
        sink.deliver(&batch);
        assert_eq!(keep.texts(), vec![GOOD.to_string()]);
        let throttle = registry
            .snapshot()
            .into_iter()
            .find(|e| e.name == "throttle");
        assert_eq!(throttle.map(|e| e.counters.throttled), Some(2));
    }

    #[test]
    fn tag_blocks_are_added_before_dedup_and_throttle() {
        let spec = InputStagesSpec {
            tag: Some(TagSpec {
                station: Some("rcv1".into()),
                time: None,
            }),
            dedup: Some(DedupSpec {
                window: Duration::from_secs(30),
            }),
            throttle: Some(ThrottleSpec {
                key: ThrottleKey::Sentence,
                interval: Duration::from_secs(30),
                keep: ThrottleKeep::First,
                ..Default::default()
            }),
            ..Default::default()
        };
        let (sink, keep, registry, _) = feed(spec);
        let mut batch = Batch::default();
        batch.push(format!("{GOOD}{GOOD_B}$GPGGA,1*00\n$GPGGA,2*00\n").as_bytes());
        sink.deliver(&batch);
        assert_eq!(
            keep.texts(),
            vec![format!("\\s:rcv1*1F\\{GOOD}\\s:rcv1*1F\\$GPGGA,1*00\n")]
        );
        let got: Vec<_> = counts(&registry)
            .into_iter()
            .map(|c| (c.0, c.1, c.2, c.3))
            .collect();
        assert_eq!(
            got,
            vec![
                ("tag".into(), 4, 4, 0),
                ("dedup".into(), 4, 3, 1),
                ("throttle".into(), 3, 2, 1),
            ]
        );
    }

    #[test]
    fn latest_is_sent_by_the_timer_and_at_the_stop() {
        let spec = InputStagesSpec {
            throttle: Some(ThrottleSpec {
                key: ThrottleKey::Mmsi,
                interval: Duration::from_millis(50),
                keep: ThrottleKeep::Latest,
                ..Default::default()
            }),
            ..Default::default()
        };
        let keep = Arc::new(Keep::default());
        let registry = Registry::default();
        let stop = StopToken::new();
        let (sink, timer) = FeedSink::start(
            &spec,
            Fanout::new(vec![keep.clone()]),
            &registry,
            Reporter::silent(),
            stop.clone(),
        )
        .unwrap_or_else(|e| unreachable!("{}", e.message));
        let mut batch = Batch::default();
        batch.push(format!("{GOOD}{GOOD_B}").as_bytes());
        sink.deliver(&batch);
        // The timer sends the newest at the interval's end.
        let deadline = Instant::now() + Duration::from_secs(20);
        while keep.texts().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(keep.texts(), vec![GOOD_B.to_string()]);
        sink.deliver(&batch);
        stop.stop();
        if let Some(t) = timer {
            let _ = t.join();
        }
        sink.finish();
        assert_eq!(keep.texts(), vec![GOOD_B.to_string(), GOOD_B.to_string()]);
        let c = registry.snapshot()[0].counters;
        assert_eq!((c.datagrams_in, c.datagrams_out, c.throttled), (4, 2, 2));
    }

    #[test]
    fn bad_stage_options_are_refused_in_one_line() {
        let refused = |spec: InputStagesSpec| spec.check().err().map(|e| e.message);
        let tag = |station: &str| InputStagesSpec {
            tag: Some(TagSpec {
                station: Some(station.into()),
                time: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            refused(tag("a,b")),
            Some("tagBlock.station: \"a,b\" has \",\"; a station name is printable ASCII without , * \\ or spaces".into())
        );
        assert_eq!(refused(tag("ok")), None);
        assert_eq!(
            refused(InputStagesSpec {
                tag: Some(TagSpec::default()),
                ..Default::default()
            }),
            Some("tagBlock: give station and/or time".into())
        );
    }
}

/// What each stage costs per datagram, apart from the sockets: `cargo test --release -p
/// mproxy-core stage_cost -- --ignored --nocapture`. Prints; asserts nothing about time.
#[cfg(test)]
mod cost {
    use super::*;

    use crate::sink::test_sinks::Discard;

    #[test]
    #[ignore]
    fn stage_cost() {
        // 64 datagrams of one AIS line each, 1,000 ships, each line new (no duplicate).
        let lines: Vec<String> = (0..64_000u32)
            .map(|i| {
                let payload = format!("1{:05}{:022}", i % 1000, i);
                format!("!AIVDM,1,1,,A,{payload},0*00\r\n")
            })
            .collect();
        let interval = Duration::from_secs(3600);
        let cases: Vec<(&str, InputStagesSpec)> = vec![
            (
                "checksum count",
                InputStagesSpec {
                    checksum: Some(ChecksumMode::Count),
                    ..Default::default()
                },
            ),
            (
                "tag station+time",
                InputStagesSpec {
                    tag: Some(TagSpec {
                        station: Some("rcv1".into()),
                        time: Some(TagTime::Millis),
                    }),
                    ..Default::default()
                },
            ),
            (
                "dedup",
                InputStagesSpec {
                    dedup: Some(DedupSpec { window: interval }),
                    ..Default::default()
                },
            ),
            (
                "throttle line",
                InputStagesSpec {
                    throttle: Some(ThrottleSpec {
                        key: ThrottleKey::Line,
                        interval,
                        keep: ThrottleKeep::First,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
        ];
        for (what, spec) in cases {
            let registry = Registry::default();
            let Ok((sink, _)) = FeedSink::start(
                &spec,
                Fanout::new(vec![Arc::new(Discard)]),
                &registry,
                Reporter::silent(),
                StopToken::new(),
            ) else {
                continue;
            };
            let batches: Vec<Batch> = lines
                .chunks(64)
                .map(|chunk| {
                    let mut b = Batch::default();
                    for l in chunk {
                        b.push(l.as_bytes());
                    }
                    b
                })
                .collect();
            let started = Instant::now();
            for b in &batches {
                sink.deliver(b);
            }
            let ns = started.elapsed().as_nanos() as f64 / lines.len() as f64;
            println!("{what}: {ns:.1} ns per datagram");
        }
    }
}
