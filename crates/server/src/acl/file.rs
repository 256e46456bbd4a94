//! Users from the configuration: `user` lines of the config file (checked as the file is read,
//! created at start-up) or the ACL file (`aclfile`: read at start-up and by ACL LOAD, written
//! by ACL SAVE), never both, as in Redis 7.0. A file with an error changes nothing, and every
//! error names its line. A relative `aclfile` is in `dir`, where Redis's working directory is.

use std::io::Write;
use std::path::Path;

use super::users::{merge_selector_args, RuleError, User};

/// Checks a `user` line of the config file as Redis does while reading it (`words[0]` is
/// `user`): its selectors closed, and every rule understood (unknown commands aside, which
/// start-up reports). The error names `words[i]`, with Redis's index (that of the rule among
/// the merged rules, read in the whole line).
pub fn check_declaration(words: &[String], earlier: &[Vec<String>]) -> Result<(), String> {
    let declaration_error = |index: usize, error: RuleError| {
        format!(
            "Error in user declaration '{}': {}",
            words.get(index).map_or("", String::as_str),
            error.text()
        )
    };
    if earlier.iter().any(|e| e.get(1) == words.get(1)) {
        return Err(format!(
            "Error in user declaration '{}': Duplicate user found. A user can only be defined \
             once in config files",
            words[1]
        ));
    }
    let rules: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
    // Redis reports an unclosed selector with the error its start-up left behind, which is
    // that of an unknown command.
    let merged = merge_selector_args(&rules)
        .map_err(|start| declaration_error(start, RuleError::UnknownCommand))?;
    let mut user = User::new(words[1].as_bytes(), false);
    for (j, rule) in merged.iter().enumerate() {
        match user.apply(rule, false) {
            Ok(()) | Err(RuleError::UnknownCommand) => {}
            Err(error) => return Err(declaration_error(j, error)),
        }
    }
    Ok(())
}

/// The users of the config file's `user` lines, applied to the default user (reset first)
/// or to new ones.
pub fn configured_users(
    declarations: &[Vec<String>],
    default_user: &User,
    all_channels: bool,
) -> Result<Vec<User>, String> {
    let mut users = Vec::new();
    for words in declarations {
        let name = words[1].as_bytes();
        let mut user = if name == b"default" {
            let mut user = default_user.clone();
            user.apply(b"reset", all_channels)
                .map_err(|e| e.text().to_string())?;
            user
        } else {
            User::new(name, all_channels)
        };
        let rules: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
        let merged = merge_selector_args(&rules).unwrap_or_default();
        for rule in &merged {
            user.apply(rule, all_channels).map_err(|error| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(rule),
                    words[1],
                    error.text()
                )
            })?;
        }
        users.push(user);
    }
    Ok(users)
}

/// Reads an ACL file: one `user <name> <rule>...` per line (words split at single spaces, as
/// Redis splits them), blank lines skipped. All errors are collected, each naming its line
/// (`path` as configured; the file read is `dir`'s when it is relative).
pub fn load(dir: &Path, path: &str, all_channels: bool) -> Result<Vec<User>, String> {
    let text = std::fs::read(dir.join(path)).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::error::strerror(&e)
        )
    })?;
    let mut users: Vec<User> = Vec::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        let words: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            continue;
        }
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!(
                "{path}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1];
        if name.iter().any(|&b| b.is_ascii_whitespace() || b == 0) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut user = User::new(name, all_channels);
        let Ok(rules) = merge_selector_args(&words[2..]) else {
            errors.push_str(&format!(
                "{path}:{linenum}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        for rule in &rules {
            if let Err(error) = user.apply(trim(rule), all_channels) {
                errors.push_str(&format!(
                    "{path}:{linenum}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(rule),
                    error.text()
                ));
            }
        }
        users.push(user);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was \
             performed",
        );
        Err(errors)
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// Writes every user as an ACL file line, through a temporary file renamed over the old one
/// (in `dir` when `path` is relative).
pub fn save(dir: &Path, path: &str, users: &[User]) -> std::io::Result<()> {
    let mut text = Vec::new();
    for user in users {
        text.extend_from_slice(&user.line());
        text.push(b'\n');
    }
    let target = dir.join(path);
    let temp = target.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&temp, &target)
}
