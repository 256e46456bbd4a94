//! Server administration and introspection commands: the instance (CONFIG, SHUTDOWN,
//! FLUSHALL, SWAPDB...), DEBUG, clients and connections (PING, HELLO, AUTH, CLIENT...), COMMAND, INFO
//! and MODULE.

pub mod clients;
pub mod debug;
pub mod info;
pub mod instance;
pub mod introspection;
pub mod modules;
