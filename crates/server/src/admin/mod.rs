//! Server administration and introspection commands: the instance (CONFIG, DEBUG, SHUTDOWN,
//! FLUSHALL, SWAPDB...), clients and connections (PING, HELLO, AUTH, CLIENT...), COMMAND, INFO
//! and MODULE.

pub mod clients;
pub mod info;
pub mod instance;
pub mod introspection;
pub mod modules;
