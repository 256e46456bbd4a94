//! The network side of a client: its connection's I/O loop ([`connection`]), the event loops'
//! buffer pools ([`buffers`]), the TCP listeners ([`listeners`]) and the file-descriptor budget behind `maxclients` ([`fdlimit`]).

pub mod buffers;
pub mod connection;
pub mod fdlimit;
pub mod listeners;
