//! The server's own outgoing TCP connections (the replica's link to its master, the cluster
//! bus's links to other nodes): bound to `bind-source-addr` when it is set, as Redis binds
//! them, so that the peer sees that address.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// `bind-source-addr` as a local address with any port, or None when it is empty.
fn source_address(source: &str) -> io::Result<Option<SocketAddr>> {
    if source.is_empty() {
        return Ok(None);
    }
    (source, 0)
        .to_socket_addrs()?
        .next()
        .map(Some)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "bind-source-addr has no address",
            )
        })
}

/// Connects to `address` within `timeout`, from `source` when it is not empty.
pub fn connect(address: SocketAddr, source: &str, timeout: Duration) -> io::Result<TcpStream> {
    let Some(local) = source_address(source)? else {
        return TcpStream::connect_timeout(&address, timeout);
    };
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.bind(&local.into())?;
    socket.connect_timeout(&address.into(), timeout)?;
    Ok(socket.into())
}

/// [`connect`] for the cluster bus's tasks (their timeout is the caller's).
pub async fn connect_async(ip: &str, port: u16, source: &str) -> io::Result<tokio::net::TcpStream> {
    let Some(local) = source_address(source)? else {
        return tokio::net::TcpStream::connect((ip, port)).await;
    };
    let address = tokio::net::lookup_host((ip, port))
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address for the node"))?;
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(local)?;
    socket.connect(address).await
}
