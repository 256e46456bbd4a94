//! The smallest HTTP/1.1 responder Prometheus needs: `GET /metrics` (and `HEAD`), 404 for any
//! other path, one request per connection. Every connection has a deadline, a request-size
//! limit and a slot among a few, so a slow or hostile client holds nothing but its own slot.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::exposition::Scrape;
use crate::server::Server;

/// A scrape's request is a line and a few headers; anything longer is not Prometheus.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Reading the request and writing the reply, together; past it the connection is dropped.
const DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed on accept. Scrapers are few.
pub const MAX_CONNECTIONS: usize = 32;

pub async fn accept_loop(server: Arc<Server>, listener: TcpListener, slots: Arc<Semaphore>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors, most likely: wait for some to close rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(DEADLINE, serve(&server, stream)).await;
            drop(slot);
        });
    }
}

async fn serve(server: &Server, mut stream: TcpStream) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let reply = loop {
        if let Some(end) = find_head_end(&request) {
            break reply_to(&request[..end], || Scrape::take(server).encode());
        }
        if request.len() >= MAX_REQUEST_BYTES {
            break status_reply(431, "Request Header Fields Too Large", &[]);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..n]);
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

/// Where the request's head ends (its blank line), if it has arrived.
fn find_head_end(request: &[u8]) -> Option<usize> {
    request.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The reply to a request whose head is `head`; `scrape` runs only for `/metrics`.
fn reply_to(head: &[u8], scrape: impl FnOnce() -> String) -> Vec<u8> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return status_reply(400, "Bad Request", &[]);
    };
    if !version.starts_with("HTTP/1.") {
        return status_reply(400, "Bad Request", &[]);
    }
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return status_reply(404, "Not Found", &[]);
    }
    if method != "GET" && method != "HEAD" {
        return status_reply(405, "Method Not Allowed", &["Allow: GET, HEAD"]);
    }
    let body = scrape();
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method == "GET" {
        reply.extend_from_slice(body.as_bytes());
    }
    reply
}

fn status_reply(code: u16, reason: &str, headers: &[&str]) -> Vec<u8> {
    let body = format!("{code} {reason}\n");
    let mut reply = format!("HTTP/1.1 {code} {reason}\r\n");
    for header in headers {
        reply.push_str(header);
        reply.push_str("\r\n");
    }
    reply.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    reply.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(request: &str) -> String {
        String::from_utf8(reply_to(request.as_bytes(), || "redis_up 1\n".into())).unwrap()
    }

    #[test]
    fn metrics_is_served_and_nothing_else() {
        let ok = reply("GET /metrics HTTP/1.1\r\nHost: x");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Length: 11\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nredis_up 1\n"), "{ok}");
        assert!(reply("GET /metrics?x=1 HTTP/1.0").starts_with("HTTP/1.1 200 OK"));
        let head = reply("HEAD /metrics HTTP/1.1");
        assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
        assert!(reply("GET / HTTP/1.1").starts_with("HTTP/1.1 404 Not Found"));
        assert!(reply("GET /metricsx HTTP/1.1").starts_with("HTTP/1.1 404"));
        let post = reply("POST /metrics HTTP/1.1");
        assert!(post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET, HEAD\r\n"));
        assert!(reply("GET /metrics").starts_with("HTTP/1.1 400"));
        assert!(reply("GET /metrics SPDY/3").starts_with("HTTP/1.1 400"));
        assert!(reply("\u{1}\u{2}").starts_with("HTTP/1.1 400"));
    }

    #[test]
    fn head_end_is_the_blank_line() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"),
            Some(20)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
