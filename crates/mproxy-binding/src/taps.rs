//! Taps: how datagrams cross into JavaScript (`handle.messages()`), a whole chunk per call.

use std::sync::{Arc, Weak};

use mproxy_core::{Take, Tap, Taps};
use napi::bindgen_prelude::{Buffer, Env, Uint32Array};
use napi_derive::napi;

use crate::guard::guarded;

/// What a tap's consumer takes at once: the datagrams back to back, each one's length,
/// and who sent each (`sources[sourceOf[i]]`). `ended`: nothing more will come.
#[napi(object)]
pub struct TapChunk {
    pub data: Option<Buffer>,
    pub lengths: Option<Uint32Array>,
    pub sources: Option<Vec<String>>,
    pub source_of: Option<Uint32Array>,
    pub ended: bool,
}

/// One consumer of a route's datagrams (`handle.messages()`).
#[napi]
pub struct NativeTap {
    pub(crate) id: u32,
    pub(crate) tap: Arc<Tap>,
    /// Weak: a tap kept by a JavaScript object waiting for the collector must not keep the
    /// route's sinks (and their event callback) alive.
    pub(crate) taps: Weak<Taps>,
}

#[napi]
impl NativeTap {
    #[napi(getter)]
    pub fn id(&self, env: &Env) -> napi::Result<u32> {
        guarded(env, || Ok(self.id))
    }

    /// Datagrams this tap dropped because its queue was full.
    #[napi(getter)]
    pub fn drops(&self, env: &Env) -> napi::Result<f64> {
        guarded(env, || Ok(self.tap.drops() as f64))
    }

    /// Everything queued; null when nothing is (`onReady` is called when there is).
    #[napi]
    pub fn take(&self, env: &Env) -> napi::Result<Option<TapChunk>> {
        guarded(env, || {
            Ok(match self.tap.take() {
                Take::Empty => None,
                Take::Ended => Some(TapChunk {
                    data: None,
                    lengths: None,
                    sources: None,
                    source_of: None,
                    ended: true,
                }),
                Take::Chunk(c) => Some(TapChunk {
                    data: Some(c.data.into()),
                    lengths: Some(Uint32Array::new(c.lengths)),
                    sources: Some(c.sources),
                    source_of: Some(Uint32Array::new(c.source_of)),
                    ended: false,
                }),
            })
        })
    }

    /// Detaches the tap and releases its callback. Idempotent.
    #[napi]
    pub fn close(&self, env: &Env) -> napi::Result<()> {
        guarded(env, || {
            match self.taps.upgrade() {
                Some(taps) => taps.detach(&self.tap),
                None => self.tap.close(),
            }
            Ok(())
        })
    }
}
