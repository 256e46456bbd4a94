//! The TCP listeners: `bind` × `port` (and `bind` × `tls-port` for TLS) resolved as Redis resolves them (`*` and `::*` for every
//! address, host names, a `-` prefix for an address that may be unavailable), bound at start-up
//! and changed at runtime by CONFIG SET port/tls-port/bind. A change opens the new listeners before it
//! closes the old ones, keeps a listener whose address stays, and on failure leaves the old
//! ones serving; connections already accepted are never touched.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc as sync_mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::log;
use crate::server::{Accepted, Server};

/// How long a change waits for a closed listener's acceptor to let its socket go.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// One address to listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wanted {
    /// As `bind` writes it, for messages (Redis names `*`, not `0.0.0.0`).
    host: String,
    addr: SocketAddr,
    /// Written with a `-` prefix: skipped when the host lacks the address or its family.
    optional: bool,
}

/// The running TCP acceptors of `port`, or of `tls-port`, and what starting another takes.
#[derive(Default)]
pub struct Listeners {
    /// These listen on `tls-port`, and their clients speak TLS.
    tls: bool,
    /// The acceptors' runtime (the main thread's) and the event loops they hand clients to.
    acceptors: OnceLock<(tokio::runtime::Handle, Vec<mpsc::UnboundedSender<Accepted>>)>,
    open: Mutex<Vec<Acceptor>>,
}

/// A listener being served, and how to stop it.
struct Acceptor {
    addr: SocketAddr,
    /// The listening socket, for [`Listeners::refuse_at_exit`].
    fd: std::os::fd::RawFd,
    stop: oneshot::Sender<()>,
    /// Disconnects once the acceptor has dropped its socket.
    closed: sync_mpsc::Receiver<()>,
}

impl Acceptor {
    /// Stops accepting and waits until the socket is closed, so its address is free again.
    fn close(self) {
        let _ = self.stop.send(());
        let _ = self.closed.recv_timeout(CLOSE_WAIT);
        log!(Notice, "Closing listening socket {}", self.addr);
    }
}

/// Why CONFIG SET could not move the listeners (already logged).
pub struct ListenFailed;

/// After CONFIG SET changed the live config from `before`: moves the listeners if `port`,
/// `tls-port` or `bind` changed. When they cannot move, the parameters `pairs` set are
/// restored, as Redis restores them, and the error is Redis's text.
pub fn follow_config_set(
    server: &Arc<Server>,
    before: &Config,
    pairs: &[(&[u8], &[u8])],
) -> Result<(), String> {
    let after = server.config.read().clone();
    if (after.tls.port != before.tls.port || after.bind != before.bind)
        && server.tls_listeners.reconfigure(server, &after).is_err()
    {
        crate::config::restore(&mut server.config.write(), before, pairs);
        let name = if after.bind != before.bind {
            "bind"
        } else {
            "tls-port"
        };
        return Err(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - Unable to listen on this port. Check server logs."
        ));
    }
    if after.port == before.port && after.bind == before.bind {
        return Ok(());
    }
    if server.listeners.reconfigure(server, &after).is_ok() {
        let port = match after.port {
            0 => 0,
            _ => server.listeners.port().unwrap_or(after.port),
        };
        server
            .identity
            .tcp_port
            .store(port as u64, std::sync::atomic::Ordering::Relaxed);
        return Ok(());
    }
    crate::config::restore(&mut server.config.write(), before, pairs);
    let (name, why) = if after.bind != before.bind {
        log!(Warning, "Failed to bind");
        ("bind", "Failed to bind to specified addresses.")
    } else {
        ("port", "Unable to listen on this port. Check server logs.")
    };
    log!(
        Warning,
        "Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."
    );
    Err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

impl Listeners {
    /// The listeners of `tls-port`.
    pub fn tls() -> Self {
        Listeners {
            tls: true,
            ..Listeners::default()
        }
    }

    /// The port these listen on in `config`.
    fn port_in(&self, config: &Config) -> u16 {
        match self.tls {
            true => config.tls.port as u16,
            false => config.port,
        }
    }

    /// Starts serving the listeners bound at start-up; from then on `reconfigure` may change
    /// them. Runs on the acceptors' runtime.
    pub(crate) fn serve(
        &self,
        server: &Arc<Server>,
        loops: Vec<mpsc::UnboundedSender<Accepted>>,
        bound: Vec<std::net::TcpListener>,
    ) {
        let runtime = tokio::runtime::Handle::current();
        let _ = self.acceptors.set((runtime, loops));
        let mut open = self.open.lock();
        for listener in bound {
            open.push(self.start(server, listener));
        }
    }

    /// Listens as `config` says from now on (CONFIG SET port/bind). On failure, logged in
    /// Redis's words, the listeners are as they were.
    pub fn reconfigure(&self, server: &Arc<Server>, config: &Config) -> Result<(), ListenFailed> {
        let wanted = resolve(config, self.port_in(config)).map_err(|e| {
            log!(Warning, "Warning: {e}");
            ListenFailed
        })?;
        let mut open = self.open.lock();
        let (kept, mut leaving): (Vec<Acceptor>, Vec<Acceptor>) = std::mem::take(&mut *open)
            .into_iter()
            .partition(|a| wanted.iter().any(|w| w.addr == a.addr));
        let missing: Vec<Wanted> = wanted
            .into_iter()
            .filter(|w| !kept.iter().any(|a| a.addr == w.addr))
            .collect();
        *open = kept;
        let bound = match bind_all(&missing, config.tcp_backlog) {
            Ok(bound) => bound,
            // A wildcard address and a specific one on the same port exclude each other while
            // both listen: the old ones must close first, as Redis always closes them first.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && !leaving.is_empty() => {
                let closed: Vec<SocketAddr> = leaving.iter().map(|a| a.addr).collect();
                std::mem::take(&mut leaving)
                    .into_iter()
                    .for_each(Acceptor::close);
                match bind_all(&missing, config.tcp_backlog) {
                    Ok(bound) => bound,
                    Err(e) => {
                        log!(Warning, "Warning: {e}");
                        self.reopen(server, &mut open, &closed, config.tcp_backlog);
                        return Err(ListenFailed);
                    }
                }
            }
            Err(e) => {
                log!(Warning, "Warning: {e}");
                open.extend(leaving);
                return Err(ListenFailed);
            }
        };
        for listener in bound {
            let acceptor = self.start(server, listener);
            log!(Verbose, "Now listening on {}", acceptor.addr);
            open.push(acceptor);
        }
        leaving.into_iter().for_each(Acceptor::close);
        Ok(())
    }

    /// The port of the first listener, if any.
    fn port(&self) -> Option<u16> {
        self.open.lock().first().map(|a| a.addr.port())
    }

    /// After a failed change that had to close the old listeners first: binds them again.
    fn reopen(
        &self,
        server: &Arc<Server>,
        open: &mut Vec<Acceptor>,
        addrs: &[SocketAddr],
        backlog: u32,
    ) {
        for &addr in addrs {
            match listen(addr, backlog) {
                Ok(listener) => open.push(self.start(server, listener)),
                Err(e) => log!(Warning, "Could not listen again on {addr}: {e}"),
            }
        }
    }

    /// The port the first listener has (the configured one, or the one the system chose).
    pub fn first_port(bound: &[std::net::TcpListener]) -> std::io::Result<u16> {
        Ok(match bound.first() {
            Some(l) => l.local_addr()?.port(),
            None => 0,
        })
    }

    fn start(&self, server: &Arc<Server>, listener: std::net::TcpListener) -> Acceptor {
        let (runtime, loops) = self.acceptors.get().expect("serve ran first");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let (stop, stop_rx) = oneshot::channel();
        let (closed_tx, closed) = sync_mpsc::channel::<()>();
        let server = server.clone();
        let loops = loops.clone();
        let tls = self.tls;
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)
                .expect("listener registers with the runtime");
            crate::server::accept_loop(server, listener, loops, stop_rx, tls).await;
            // The listener was dropped when the loop returned.
            drop(closed_tx);
        });
        Acceptor {
            addr,
            fd,
            stop,
            closed,
        }
    }

    /// Makes every listening socket refuse connections now, as the process is about to exit:
    /// its clients' sockets may be closed before the listeners as the process goes, and a
    /// client that saw its connection close (SHUTDOWN's own) could otherwise connect in
    /// between and be reset instead of refused (Redis closes its listeners first). The
    /// sockets stay open, so no descriptor is reused under the acceptors.
    pub fn refuse_at_exit(&self) {
        for acceptor in self.open.lock().iter() {
            // SAFETY: shutdown() on a descriptor this struct keeps open.
            unsafe { libc::shutdown(acceptor.fd, libc::SHUT_RDWR) };
        }
    }
}

/// Binds every `bind` address of `config` at `port` (the server's `kind` port: "TCP", "TLS",
/// "cluster", "metrics") at start-up; an unavailable address that is not optional stops the
/// server, logged in Redis's words (its test suite reads "Failed listening on port" to try
/// another port).
pub fn bind_at_startup(
    config: &Config,
    port: u16,
    kind: &str,
) -> Result<Vec<std::net::TcpListener>, String> {
    let wanted = resolve(config, port)?;
    // The bind's failure is logged here; the reason returned is the line the start-up's
    // failure logs after it, as Redis logs the two.
    bind_all(&wanted, config.tcp_backlog).map_err(|e| {
        log!(Warning, "Warning: {e}");
        format!("Failed listening on port {port} ({kind}), aborting.")
    })
}

/// The addresses `config` binds at `port`; none when `port` is 0 ("no TCP listener", as in
/// Redis).
fn resolve(config: &Config, port: u16) -> Result<Vec<Wanted>, String> {
    if port == 0 {
        return Ok(Vec::new());
    }
    let mut wanted = Vec::new();
    for word in &config.bind {
        let (optional, host) = match word.strip_prefix('-') {
            Some(host) => (true, host),
            None => (false, word.as_str()),
        };
        match resolve_host(host, port) {
            Some(addr) => wanted.push(Wanted {
                host: host.to_string(),
                addr,
                optional,
            }),
            None if optional => {}
            None => {
                return Err(format!(
                    "Could not create server TCP listening socket {host}:{port}: Name or service not known"
                ))
            }
        }
    }
    Ok(wanted)
}

/// One host of `bind` as Redis reads it: `*` is every IPv4 address, `::*` every IPv6 one; a
/// name with a colon is IPv6, any other IPv4, and a host name resolves to its first address of
/// that family.
fn resolve_host(host: &str, port: u16) -> Option<SocketAddr> {
    let host = match host {
        "*" => "0.0.0.0",
        "::*" => "::",
        other => other,
    };
    let ipv6 = host.contains(':');
    (host, port)
        .to_socket_addrs()
        .ok()?
        .find(|addr| addr.is_ipv6() == ipv6)
}

/// Binds each address; an optional one the host cannot have is skipped with a warning. The
/// first other failure closes what was bound and is returned.
fn bind_all(wanted: &[Wanted], backlog: u32) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut bound = Vec::new();
    for w in wanted {
        match listen(w.addr, backlog) {
            Ok(listener) => bound.push(listener),
            Err(e) if w.optional && e.kind() != std::io::ErrorKind::AddrInUse => {
                log!(
                    Warning,
                    "Could not bind optional address {}:{}: {e}",
                    w.host,
                    w.addr.port()
                )
            }
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!(
                        "Could not create server TCP listening socket {}:{}: {e}",
                        w.host,
                        w.addr.port()
                    ),
                ))
            }
        }
    }
    Ok(bound)
}

/// A listening socket on `addr`; an error names the call that failed, as Redis's
/// messages do (`bind: Address already in use`).
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    let step = |call: &'static str| {
        move |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("{call}: {}", crate::error::strerror(&e)))
        }
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .map_err(step("socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(step("setsockopt SO_REUSEADDR"))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(step("setsockopt"))?;
    }
    socket.bind(&addr.into()).map_err(step("bind"))?;
    socket.listen(backlog as i32).map_err(step("listen"))?;
    socket
        .set_nonblocking(true)
        .map_err(step("fcntl(F_SETFL,O_NONBLOCK)"))?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bind: &[&str]) -> Config {
        Config {
            bind: bind.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        }
    }

    #[test]
    fn bind_words_resolve_as_redis_reads_them() {
        let got = resolve(
            &config(&["*", "-::*", "localhost", "-nowhere.invalid"]),
            7000,
        )
        .unwrap();
        let addrs: Vec<String> = got.iter().map(|w| w.addr.to_string()).collect();
        assert_eq!(addrs, ["0.0.0.0:7000", "[::]:7000", "127.0.0.1:7000"]);
        assert_eq!(
            got.iter().map(|w| w.optional).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert!(resolve(&config(&["*"]), 0).unwrap().is_empty());
        assert!(resolve(&config(&["nowhere.invalid"]), 7000)
            .unwrap_err()
            .starts_with("Could not create server TCP listening socket nowhere.invalid:7000"));
    }
}
