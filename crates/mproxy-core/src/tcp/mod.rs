//! TCP listeners, shared by the TCP inputs (`source::tcp_listen`) and the TCP outputs of the
//! reverse proxy (`sink::tcp_output`): binding and accepting ([`accept`]) under the
//! listener's rules ([`access`]: allow list, per-address cap, a log once per address).

pub(crate) mod accept;
pub(crate) mod access;
