/// The core's `bench_support` module as the benchmarks need it, for a revision of the core
/// that predates it (one with `RouteSpec::udp_destinations`, before the one output
/// description): `npm run bench -- --only instructions --baseline REV` appends this to that
/// revision's `lib.rs`. Not compiled here.
#[doc(hidden)]
pub mod bench_support {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use crate::batch::Batch;
    use crate::error::Result;
    use crate::event::Reporter;
        use crate::route::RouteSpec;
    use crate::sink::rules::{RuleSpec, RuledSink};
    use crate::sink::{Fanout, Sink};
    use crate::stats::Registry;
    use crate::udp_socket::{DestinationSpec, ListenSpec, DEFAULT_SOCKET_BUFFER};

    /// `rules` in front of `target`, as a route puts them in front of one output.
    pub fn ruled(rules: &RuleSpec, target: Arc<dyn Sink>) -> Result<Arc<dyn Sink>> {
        let registry = Registry::default();
        let ruled = RuledSink::new(
            rules,
            None,
            "bench",
            vec![target],
            Vec::new(),
            &registry,
            Reporter::silent(),
        )?;
        Ok(Arc::new(ruled))
    }

    /// Delivers `batch` to every one of `sinks`, as a route's sources do.
    pub fn fan_out(sinks: Vec<Arc<dyn Sink>>, batch: &Batch) {
        Fanout::new(sinks).deliver(batch);
    }

    /// A relay: a UDP listener on `listen` to the UDP destination `to`, nothing between.
    pub fn relay_spec(listen: SocketAddr, to: SocketAddr) -> RouteSpec {
        RouteSpec {
            udp_listeners: vec![ListenSpec {
                addr: listen,
                interface: None,
                recv_buffer: DEFAULT_SOCKET_BUFFER,
            }],
            udp_destinations: vec![DestinationSpec {
                addr: to,
                interface: None,
                ttl: 1,
                multicast_loop: false,
            }],
            ..Default::default()
        }
    }
}
