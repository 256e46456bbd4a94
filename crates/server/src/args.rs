//! Argument helpers that commands of several subsystems share (data-type families, admin,
//! pub/sub, memory...): a keyword out of a fixed set, and the `<COMMAND> HELP` reply. They live
//! below the command families so that no subsystem imports a family for them.

use crate::context::Ctx;
use crate::error::CommandError;

/// Argument `i` as one of `choices` (keywords, matched ignoring ASCII case) and the value it
/// stands for; Redis's syntax error for anything else. `keyword(ctx, 2, &[("ON", true),
/// ("OFF", false)])`.
pub fn keyword<T: Copy>(ctx: &Ctx<'_>, i: usize, choices: &[(&str, T)]) -> Result<T, CommandError> {
    choices
        .iter()
        .find(|(word, _)| ctx.arg_is(i, word))
        .map(|&(_, value)| value)
        .ok_or(CommandError::Syntax)
}

/// The reply to `<COMMAND> HELP`: Redis's header line, the given lines, and the HELP entry.
pub fn reply_help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}
