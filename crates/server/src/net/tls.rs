//! TLS with rustls: the server and client contexts built from the `tls-*` parameters (PEM
//! files as Redis reads them), rebuilt by CONFIG SET for new connections (certificate
//! rotation), and the TLS stream a connection serves like a TCP one.
//!
//! The OpenSSL words of `tls-protocols`, `tls-ciphers` and `tls-ciphersuites` map to what
//! rustls implements; what it does not (TLS 1.0/1.1, CBC or RSA key-exchange suites,
//! encrypted keys) is refused with a clear error rather than silently ignored.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use redis_lite_tls::rustls::crypto::CryptoProvider;
use redis_lite_tls::rustls::server::{StoresServerSessions, WebPkiClientVerifier};
use redis_lite_tls::rustls::{self, ClientConfig, ServerConfig, SupportedCipherSuite};
use redis_lite_tls::{client_builder, load_certs, load_key, roots, server_name, Trust};

use crate::config::sections::TlsConfig;
use crate::config::Config;
use crate::log;
use crate::net::connection::ClientStream;

/// How long a TLS client has to finish its handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The contexts new connections use. Connections keep the context they started with, so
/// rotating a certificate never touches them.
#[derive(Default)]
pub struct Tls {
    server: RwLock<Option<Arc<ServerConfig>>>,
    client: RwLock<Option<Arc<ClientConfig>>>,
}

impl Tls {
    /// Whether `config` needs the contexts: a TLS port, or TLS links.
    pub fn wanted(config: &Config) -> bool {
        config.tls.port != 0 || config.tls.replication || config.tls.cluster
    }

    /// Builds both contexts from `config` and uses them from now on. On error (logged, in
    /// words naming the file or parameter) the previous contexts stay.
    pub fn configure(&self, config: &TlsConfig) -> Result<(), String> {
        let built = server_config(config).and_then(|s| Ok((s, client_config(config)?)));
        let (server, client) = built.inspect_err(|why| {
            log!(Warning, "Failed to configure TLS: {why}");
        })?;
        *self.server.write() = Some(server);
        *self.client.write() = Some(client);
        Ok(())
    }

    /// The context the replica's link to its master connects with.
    pub fn client_config(&self) -> Option<Arc<ClientConfig>> {
        self.client.read().clone()
    }

    /// Completes the server side of a handshake on an accepted socket. None (logged, as Redis
    /// logs a failed accept) when the client is not let in.
    pub async fn accept(
        &self,
        stream: tokio::net::TcpStream,
        peer: &str,
    ) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
        let config = self.server.read().clone()?;
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
        let why = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(stream)) => return Some(stream),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "handshake timed out".to_string(),
        };
        log!(
            Warning,
            "Error accepting a client connection: {why} (addr={peer})"
        );
        None
    }
}

/// At start-up: the contexts for `config`, or Redis's message to exit with.
pub fn configure_at_startup(tls: &Tls, config: &Config) -> Result<(), String> {
    if !Tls::wanted(config) {
        return Ok(());
    }
    tls.configure(&config.tls)
        .map_err(|_| "Failed to configure TLS. Check logs for more info.".to_string())
}

/// After CONFIG SET changed the live config from `before`: rebuilds the contexts when a
/// `tls-*` parameter they read changed. When they cannot be built, the parameters `pairs` set
/// are restored and the error is Redis's text.
pub fn follow_config_set(
    server: &crate::server::Server,
    before: &Config,
    pairs: &[(&[u8], &[u8])],
) -> Result<(), String> {
    let after = server.config.read().clone();
    if !Tls::wanted(&after) || (Tls::wanted(before) && !context_changed(&before.tls, &after.tls)) {
        return Ok(());
    }
    if server.tls.configure(&after.tls).is_ok() {
        return Ok(());
    }
    crate::config::restore(&mut server.config.write(), before, pairs);
    let name = pairs
        .iter()
        .map(|(name, _)| String::from_utf8_lossy(name).to_ascii_lowercase())
        .find(|name| name.starts_with("tls-"))
        .unwrap_or_else(|| "tls-port".to_string());
    Err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs."
    ))
}

/// Whether the contexts read a parameter that differs (everything but the port and the links'
/// switches).
fn context_changed(a: &TlsConfig, b: &TlsConfig) -> bool {
    let key = |c: &TlsConfig| {
        (
            [
                &c.cert_file,
                &c.key_file,
                &c.key_file_pass,
                &c.client_cert_file,
                &c.client_key_file,
                &c.client_key_file_pass,
                &c.ca_cert_file,
                &c.ca_cert_dir,
                &c.protocols,
                &c.ciphers,
                &c.ciphersuites,
            ]
            .map(String::clone),
            c.auth_clients,
            c.prefer_server_ciphers,
            c.session_caching,
            c.session_cache_size,
            c.session_cache_timeout,
        )
    };
    key(a) != key(b)
}

/// The server context: certificate and key, client verification per `tls-auth-clients`,
/// protocols, suites and the session cache.
fn server_config(config: &TlsConfig) -> Result<Arc<ServerConfig>, String> {
    if config.cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if config.key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let needs_ca = config.auth_clients != "no" || config.replication || config.cluster;
    if needs_ca && config.ca_cert_file.is_empty() && config.ca_cert_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let provider = Arc::new(provider(config)?);
    let certs = load_certs(&config.cert_file)?;
    let key = load_key(&config.key_file, &config.key_file_pass)?;
    let verifier = match config.auth_clients {
        "no" => WebPkiClientVerifier::no_client_auth(),
        auth => {
            let builder = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(&config.ca_cert_file, &config.ca_cert_dir)?),
                provider.clone(),
            );
            let builder = match auth {
                "optional" => builder.allow_unauthenticated(),
                _ => builder,
            };
            builder
                .build()
                .map_err(|e| format!("client verification: {e}"))?
        }
    };
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&protocols(&config.protocols)?)
        .map_err(|e| format!("tls-protocols: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("{} and {}: {e}", config.cert_file, config.key_file))?;
    server.ignore_client_order = config.prefer_server_ciphers;
    server.session_storage = match config.session_caching {
        true => Arc::new(SessionCache::new(
            config.session_cache_size as usize,
            Duration::from_secs(config.session_cache_timeout as u64),
        )),
        false => Arc::new(rustls::server::NoServerSessionStorage {}),
    };
    Ok(Arc::new(server))
}

/// The client context of outgoing links: the CA to trust, and the certificate to present
/// (`tls-client-cert-file`, or the server's own when that is not set, as in Redis).
fn client_config(config: &TlsConfig) -> Result<Arc<ClientConfig>, String> {
    let trust = Trust::Chain(roots(&config.ca_cert_file, &config.ca_cert_dir)?);
    let builder = client_builder(provider(config)?, &protocols(&config.protocols)?, trust)?;
    let (cert, key, pass) = match config.client_cert_file.is_empty() {
        true => (&config.cert_file, &config.key_file, &config.key_file_pass),
        false => (
            &config.client_cert_file,
            &config.client_key_file,
            &config.client_key_file_pass,
        ),
    };
    let client = builder
        .with_client_auth_cert(load_certs(cert)?, load_key(key, pass)?)
        .map_err(|e| format!("{cert} and {key}: {e}"))?;
    Ok(Arc::new(client))
}

/// An outgoing link (a replica's to its master): plain TCP, or TLS over it under
/// `tls-replication`. Blocking, as the link's thread reads and writes it.
pub enum LinkStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl LinkStream {
    /// The TCP socket under the link (addresses, descriptor, shutdown).
    pub fn socket(&self) -> &TcpStream {
        match self {
            LinkStream::Plain(socket) => socket,
            LinkStream::Tls(tls) => &tls.sock,
        }
    }
}

impl io::Read for LinkStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LinkStream::Plain(socket) => socket.read(buf),
            LinkStream::Tls(tls) => tls.read(buf),
        }
    }
}

impl io::Write for LinkStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LinkStream::Plain(socket) => socket.write(buf),
            LinkStream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            LinkStream::Plain(socket) => socket.flush(),
            LinkStream::Tls(tls) => tls.flush(),
        }
    }
}

impl Tls {
    /// The link over `socket` to `host`: TLS when `tls` (`tls-replication`), its handshake
    /// done within `timeout`; the error says why, for the link's log line.
    pub fn link(
        &self,
        socket: TcpStream,
        host: &str,
        tls: bool,
        timeout: Duration,
    ) -> Result<LinkStream, String> {
        if !tls {
            return Ok(LinkStream::Plain(socket));
        }
        let config = self
            .client_config()
            .ok_or_else(|| "TLS is not configured".to_string())?;
        let session =
            rustls::ClientConnection::new(config, server_name(host)).map_err(|e| e.to_string())?;
        let mut stream = rustls::StreamOwned::new(session, socket);
        stream
            .sock
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| e.to_string())?;
        }
        Ok(LinkStream::Tls(Box::new(stream)))
    }
}

/// `tls-protocols`: OpenSSL's words; empty is TLS 1.2 and 1.3.
fn protocols(words: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    for word in words.split_ascii_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                    "tls-protocols: {word} is not supported (rustls speaks TLSv1.2 and TLSv1.3)"
                ))
            }
            _ => return Err(format!("Invalid tls-protocols specified: {word}")),
        }
    }
    if versions.is_empty() {
        versions = vec![&rustls::version::TLS12, &rustls::version::TLS13];
    }
    Ok(versions)
}

/// The ring provider, its suites narrowed by `tls-ciphers` (TLS 1.2, OpenSSL names) and
/// `tls-ciphersuites` (TLS 1.3, IANA names).
fn provider(config: &TlsConfig) -> Result<CryptoProvider, String> {
    let mut provider = redis_lite_tls::provider();
    let all = provider.cipher_suites.clone();
    let tls13 = |s: &SupportedCipherSuite| matches!(s, SupportedCipherSuite::Tls13(_));
    let mut suites: Vec<SupportedCipherSuite> = Vec::new();
    let chosen_12 = choose(
        &config.ciphers,
        "tls-ciphers",
        all.iter().filter(|s| !tls13(s)),
    )?;
    let chosen_13 = choose(
        &config.ciphersuites,
        "tls-ciphersuites",
        all.iter().filter(|s| tls13(s)),
    )?;
    suites.extend(chosen_13);
    suites.extend(chosen_12);
    provider.cipher_suites = suites;
    Ok(provider)
}

/// The suites of `list` (colon-separated, as OpenSSL reads it) among `available`: all of them
/// when empty or for OpenSSL's catch-all words; a name rustls lacks is an error listing what
/// it has.
fn choose<'a>(
    list: &str,
    param: &str,
    available: impl Iterator<Item = &'a SupportedCipherSuite> + Clone,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut chosen = Vec::new();
    for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        if matches!(word, "DEFAULT" | "HIGH" | "ALL" | "SECURE") {
            chosen.extend(available.clone().copied());
            continue;
        }
        let found = available
            .clone()
            .find(|s| openssl_name(s) == word || s.suite().as_str() == Some(word));
        match found {
            Some(suite) => chosen.push(*suite),
            None => {
                let names: Vec<String> = available.clone().map(openssl_name).collect();
                return Err(format!(
                    "{param}: cipher {word} is not supported by rustls (supported: {})",
                    names.join(":")
                ));
            }
        }
    }
    if list.trim().is_empty() {
        chosen.extend(available.copied());
    }
    chosen.dedup_by_key(|s| s.suite());
    Ok(chosen)
}

/// A suite's OpenSSL name (`ECDHE-RSA-AES128-GCM-SHA256`, `TLS_AES_128_GCM_SHA256`).
fn openssl_name(suite: &SupportedCipherSuite) -> String {
    let iana = suite.suite().as_str().unwrap_or("unknown");
    if let Some(tls13) = iana.strip_prefix("TLS13_") {
        return format!("TLS_{tls13}");
    }
    let Some(rest) = iana.strip_prefix("TLS_ECDHE_") else {
        return iana.to_string();
    };
    let (auth, cipher) = rest.split_once("_WITH_").unwrap_or((rest, ""));
    let cipher = match cipher {
        "AES_128_GCM_SHA256" => "AES128-GCM-SHA256",
        "AES_256_GCM_SHA384" => "AES256-GCM-SHA384",
        "CHACHA20_POLY1305_SHA256" => "CHACHA20-POLY1305",
        other => other,
    };
    format!("ECDHE-{auth}-{cipher}")
}

/// OpenSSL's server session cache as `tls-session-cache-size` (0: unbounded) and
/// `tls-session-cache-timeout` set it: the oldest session makes room, an expired one is not
/// resumed.
#[derive(Debug)]
struct SessionCache {
    size: usize,
    timeout: Duration,
    sessions: Mutex<Sessions>,
}

/// The cached sessions by ID, with when each was stored, and their IDs oldest first.
#[derive(Debug, Default)]
struct Sessions {
    by_id: HashMap<Vec<u8>, (Instant, Vec<u8>)>,
    oldest_first: VecDeque<Vec<u8>>,
}

impl SessionCache {
    fn new(size: usize, timeout: Duration) -> Self {
        SessionCache {
            size,
            timeout,
            sessions: Mutex::new(Sessions::default()),
        }
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut sessions = self.sessions.lock();
        while self.size > 0 && sessions.by_id.len() >= self.size {
            let Some(oldest) = sessions.oldest_first.pop_front() else {
                break;
            };
            sessions.by_id.remove(&oldest);
        }
        if sessions
            .by_id
            .insert(key.clone(), (Instant::now(), value))
            .is_none()
        {
            sessions.oldest_first.push_back(key);
        }
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let sessions = self.sessions.lock();
        let (stored, value) = sessions.by_id.get(key)?;
        (stored.elapsed() < self.timeout).then(|| value.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut sessions = self.sessions.lock();
        let (stored, value) = sessions.by_id.remove(key)?;
        sessions.oldest_first.retain(|k| k != key);
        (stored.elapsed() < self.timeout).then_some(value)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// A TLS client is served like a TCP one. Its readiness is the socket's, except that
/// decrypted input rustls already holds is ready at once, and encrypted output it holds waits
/// for the socket to take it (`has_unsent`).
impl ClientStream for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (socket, session) = self.get_ref();
        match session.wants_read() {
            true => socket.poll_read_ready(cx),
            false => Poll::Ready(Ok(())),
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_ref().0.poll_write_ready(cx)
    }

    fn has_unsent(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_words_map_to_rustls_suites() {
        let config = |ciphers: &str, suites: &str| TlsConfig {
            ciphers: ciphers.into(),
            ciphersuites: suites.into(),
            ..TlsConfig::default()
        };
        let names = |p: CryptoProvider| -> Vec<String> {
            p.cipher_suites.iter().map(openssl_name).collect()
        };
        let narrowed = provider(&config(
            "ECDHE-RSA-AES256-GCM-SHA384",
            "TLS_AES_128_GCM_SHA256",
        ));
        assert_eq!(
            names(narrowed.unwrap()),
            ["TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
        );
        assert_eq!(names(provider(&config("", "")).unwrap()).len(), 9);
        assert_eq!(names(provider(&config("DEFAULT", "")).unwrap()).len(), 9);
        let refused = provider(&config("AES128-SHA", "")).unwrap_err();
        assert!(refused.starts_with("tls-ciphers: cipher AES128-SHA is not supported by rustls (supported: ECDHE-ECDSA-AES256-GCM-SHA384:"), "{refused}");
    }

    #[test]
    fn protocol_words_are_openssls() {
        assert_eq!(protocols("TLSv1.2 TLSv1.3").unwrap().len(), 2);
        assert_eq!(protocols("").unwrap().len(), 2);
        assert_eq!(protocols("TLSv1.3").unwrap().len(), 1);
        assert!(protocols("TLSv1.1").unwrap_err().contains("not supported"));
        assert_eq!(
            protocols("SSLv3").unwrap_err(),
            "Invalid tls-protocols specified: SSLv3"
        );
    }

    #[test]
    fn session_cache_keeps_its_size_and_timeout() {
        let cache = SessionCache::new(2, Duration::from_secs(60));
        for key in [b"a", b"b", b"c"] {
            cache.put(key.to_vec(), key.to_vec());
        }
        assert_eq!(cache.get(b"a"), None);
        assert_eq!(cache.get(b"c"), Some(b"c".to_vec()));
        assert_eq!(cache.take(b"b"), Some(b"b".to_vec()));
        assert_eq!(cache.get(b"b"), None);
        let expired = SessionCache::new(0, Duration::ZERO);
        expired.put(b"k".to_vec(), b"v".to_vec());
        assert_eq!(expired.get(b"k"), None);
    }
}
