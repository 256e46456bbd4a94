//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM; and XINFO.

use crate::command::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
