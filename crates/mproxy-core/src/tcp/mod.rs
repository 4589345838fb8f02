//! TCP listeners, shared by the TCP inputs (`source::tcp_listen`) and the TCP outputs of the
//! reverse proxy (`sink::tcp_output`): binding and accepting ([`accept`]) under the
//! listener's rules ([`access`]: allow list, per-address cap, a log once per address).
//! Connections we open, shared by the kept connections (`source::tcp_connect`) and the
//! outputs that connect out (`sink::connect_out`): opening them ([`dial`]) and keeping them
//! (backoff and reporting, [`reconnect`]).

pub(crate) mod accept;
pub(crate) mod access;
pub(crate) mod dial;
pub(crate) mod reconnect;
