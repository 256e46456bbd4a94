//! The network side of a client: its connection's I/O loop ([`connection`]), the event loops'
//! buffer pools ([`buffers`]), the TCP and TLS listeners ([`listeners`]), TLS ([`tls`]), the file-descriptor budget behind `maxclients` ([`fdlimit`]) and the server's own outgoing connections ([`outbound`]).

pub mod buffers;
pub mod connection;
pub mod fdlimit;
pub mod listeners;
pub mod outbound;
pub mod tls;
