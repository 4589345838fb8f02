//! TLS (rustls with the ring provider): the client side of TCP inputs and outputs that
//! connect ([`client`]), mproxy's own listeners ([`server`]), and the PEM files both read
//! ([`pem`]).

mod client;
mod pem;
mod server;

pub use self::client::*;
pub(crate) use self::pem::*;
pub use self::server::*;
