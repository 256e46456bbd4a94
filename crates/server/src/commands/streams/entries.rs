//! Stream entries: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
