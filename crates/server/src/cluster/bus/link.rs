//! One bus link's I/O, over any async byte stream so that `tls-cluster` can hand it a TLS
//! stream: bytes read are cut into messages ([`frame_len`]) and decoded for the core; frames
//! the core queues are written in order. The task ends when the peer closes, the stream fails,
//! a frame cannot start a message, or the core drops the link's queue; the core aborts it
//! when it frees the link.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use redis_lite_clusterbus::{frame_len, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::Event;

/// Serves link `link` on `stream` until it ends, then tells the core.
pub(super) async fn serve<S>(
    link: u64,
    stream: S,
    events: mpsc::UnboundedSender<Event>,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Arc<AtomicU64>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = reader.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                if !deliver(link, &mut buf, &events) {
                    break;
                }
            }
            frame = queued.recv() => {
                let Some(frame) = frame else { break };
                if writer.write_all(&frame).await.is_err() {
                    break;
                }
                pending.fetch_sub(frame.len() as u64, Relaxed);
            }
        }
    }
    let _ = events.send(Event::Closed { link });
}

/// Hands the core every whole message at the start of `buf`; false when the stream cannot be
/// read on (a bad signature or length: Redis closes such a link too).
fn deliver(link: u64, buf: &mut Vec<u8>, events: &mpsc::UnboundedSender<Event>) -> bool {
    let mut start = 0;
    loop {
        let len = match frame_len(&buf[start..]) {
            Ok(Some(len)) => len,
            Ok(None) => break,
            Err(e) => {
                crate::log!(Verbose, "Closing a cluster bus link: {e}");
                return false;
            }
        };
        if buf.len() - start < len {
            break;
        }
        match Message::decode(&buf[start..start + len]) {
            Ok(message) => {
                if events
                    .send(Event::Received {
                        link,
                        message: Box::new(message),
                    })
                    .is_err()
                {
                    return false;
                }
            }
            // Redis ignores a message it cannot use and keeps the link.
            Err(e) => crate::log!(Warning, "Ignoring a cluster bus message: {e}"),
        }
        start += len;
    }
    buf.drain(..start);
    true
}
