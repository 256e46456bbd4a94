//! Prometheus metrics, built in: `GET /metrics` on `metrics-port` (off at 0, the default), on
//! the same `bind` addresses as the server, in the text exposition format with
//! `oliver006/redis_exporter`'s metric names, so no exporter process is needed.
//!
//! Serving runs on a thread of its own with its own small runtime: a scrape reads the INFO
//! text and a few atomics as INFO does, and never waits on or wakes an event loop.
//! - [`exposition`]: INFO's text (and redis-lite's own figures, `own.rs`) as metric families,
//!   encoded by `prometheus-client`.
//! - `http.rs`: the HTTP/1.1 responder, bounded in size, time and connections.
//! - [`histogram`]: the latency histograms rare slow operations record for it (AOF fsync,
//!   snapshot lock hold).

pub mod exposition;
pub mod histogram;
mod http;
pub(crate) mod own;

use std::sync::Arc;

use crate::log;
use crate::server::Server;

/// Starts the metrics thread serving `listeners` (already bound, so a port in use fails
/// start-up as the main port does). Nothing to do without listeners.
pub fn start(server: Arc<Server>, listeners: Vec<std::net::TcpListener>) -> Result<(), String> {
    if listeners.is_empty() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let slots = Arc::new(tokio::sync::Semaphore::new(http::MAX_CONNECTIONS));
                let mut loops = Vec::new();
                for listener in listeners {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("listener registers with the runtime");
                    log!(
                        Notice,
                        "Serving Prometheus metrics on http://{}/metrics",
                        listener.local_addr().expect("bound")
                    );
                    loops.push(tokio::spawn(http::accept_loop(
                        server.clone(),
                        listener,
                        slots.clone(),
                    )));
                }
                for accept in loops {
                    let _ = accept.await;
                }
            })
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}
