//! Server administration and introspection commands: the instance (CONFIG, SHUTDOWN,
//! FLUSHALL, SWAPDB...), DEBUG, clients and connections (PING, HELLO, AUTH, CLIENT...), COMMAND,
//! INFO, MODULE, LOLWUT, and MIGRATE (with its cache of connections to target instances).

pub mod clients;
pub mod debug;
pub mod info;
pub mod instance;
pub mod introspection;
pub mod lolwut;
pub mod migrate;
pub mod modules;
