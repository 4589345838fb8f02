//! The wire form a UDP listener accepts. A bus key protects the hops between mproxies (the
//! group, a proxy's downstream): with a key every listener is `Sealed` by default and takes
//! only datagrams sealed with it. Sensors (AIS receivers, gpsd's gps2udp) cannot seal, so a
//! listener the user marks `Plain` takes their datagrams as they come, while the route still
//! seals everything it sends. An enum rather than a flag so that later forms (another
//! sealing, a signed-only form) are one more variant.

/// How the datagrams a UDP listener receives are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wire {
    /// Sealed with the route's bus key (`bus_key`): others are refused and counted
    /// (`auth_failures`). Without a key there is nothing to open, and the listener is plain.
    #[default]
    Sealed,
    /// Taken as received, even when the route has a bus key (a sensor input).
    Plain,
}

impl Wire {
    /// Its name in options, stats and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Sealed => "sealed",
            Wire::Plain => "plain",
        }
    }

    /// The form a listener asked for as `self` has in a route that has a key (`keyed`) or
    /// not: without a key every listener is plain.
    pub fn effective(self, keyed: bool) -> Wire {
        if keyed {
            self
        } else {
            Wire::Plain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_key_every_listener_is_plain() {
        assert_eq!(Wire::Sealed.effective(false), Wire::Plain);
        assert_eq!(Wire::Plain.effective(false), Wire::Plain);
        assert_eq!(Wire::Sealed.effective(true), Wire::Sealed);
        assert_eq!(Wire::Plain.effective(true), Wire::Plain);
        assert_eq!(Wire::default(), Wire::Sealed);
        assert_eq!(
            [Wire::Sealed.as_str(), Wire::Plain.as_str()],
            ["sealed", "plain"]
        );
    }
}
