//! The user model and its rule language, as Redis 7.0 defines them: a user is a flag set,
//! password hashes and selectors (the root one and those added with `(...)`); a selector is a
//! command bitmap over the command table's entries (containers and subcommands each have their
//! bit), first-args of otherwise denied commands, key patterns with read/write flags and
//! channel patterns. Rules apply one at a time (`User::apply`); a user is described back with
//! Redis's own rendering (`describe`), whose command part is Redis 7.0's best-fit of categories
//! followed by single commands.

use sha2::{Digest, Sha256};

use crate::command::{self, acl, CommandEntry};

/// Why a rule was refused; `text` is Redis's wording (`ACLSetUserStringError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAllKeys,
    ChannelAfterAllChannels,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAllKeys => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAllChannels => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list \
                 of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// A key pattern's permissions (`%R~`, `%W~`, `~` for both).
pub const KEY_READ: u8 = 1;
pub const KEY_WRITE: u8 = 2;
pub const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub flags: u8,
    pub pattern: Vec<u8>,
}

impl KeyPattern {
    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.flags {
            KEY_READ => b"%R~",
            KEY_WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

/// One set of permissions; a command is allowed when any of a user's selectors allows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// One bit per command table entry.
    pub commands: Vec<bool>,
    /// Set by `+@all` only: commands added later would be allowed (Redis's reserved bit).
    pub future_commands: bool,
    /// `+@all` without a later `-` rule: the bitmap need not be read.
    pub all_commands: bool,
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by entry id.
    pub first_args: Vec<(usize, Vec<Vec<u8>>)>,
    pub keys: Vec<KeyPattern>,
    pub all_keys: bool,
    pub channels: Vec<Vec<u8>>,
    pub all_channels: bool,
}

/// Each command table entry's categories, computed once.
fn categories() -> &'static [acl::Categories] {
    static CATEGORIES: std::sync::OnceLock<Vec<acl::Categories>> = std::sync::OnceLock::new();
    CATEGORIES.get_or_init(|| {
        command::table()
            .entries
            .iter()
            .map(CommandEntry::acl_categories)
            .collect()
    })
}

/// A command or subcommand by the name a rule uses (`get`, `config|get`), as Redis's
/// `ACLLookupCommand`: any case, at most one `|`.
pub fn lookup_command(name: &[u8]) -> Option<&'static CommandEntry> {
    let table = command::table();
    let mut parts = name.split(|&b| b == b'|');
    let top = table.get(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(top),
        (Some(sub), None) if top.has_subcommands() => {
            match table.lookup(&[top.spec.name.as_bytes(), sub]) {
                command::Lookup::Found(entry) if entry.parent.is_some() => Some(entry),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether a pattern has characters Redis refuses in one (white space, NUL).
fn has_spaces(text: &[u8]) -> bool {
    text.iter()
        .any(|&b| b.is_ascii_whitespace() || b == 0 || b == 0x0b)
}

impl Selector {
    /// A new selector: no commands, no keys, channels per `acl-pubsub-default`.
    pub fn new(all_channels: bool) -> Self {
        Selector {
            commands: vec![false; command::table().entries.len()],
            future_commands: false,
            all_commands: false,
            first_args: Vec::new(),
            keys: Vec::new(),
            all_keys: false,
            channels: Vec::new(),
            all_channels,
        }
    }

    /// Every command, key and channel: the check can skip this selector's details.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        self.commands[id] = allow;
        if !allow {
            self.all_commands = false;
        }
    }

    /// Allows or denies a command, and all of a container's subcommands.
    fn change(&mut self, entry: &CommandEntry, allow: bool) {
        self.set_bit(entry.id, allow);
        self.first_args.retain(|(id, _)| *id != entry.id);
        for sub in command::table().subcommands(entry) {
            self.set_bit(sub.id, allow);
        }
    }

    fn change_category(&mut self, category: acl::Categories, allow: bool) {
        let table = command::table();
        for (entry, cats) in table.entries.iter().zip(categories()) {
            if cats & category != 0 {
                self.change(entry, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        self.commands.iter_mut().for_each(|bit| *bit = allow);
        self.future_commands = allow;
        self.all_commands = allow;
        self.first_args.clear();
    }

    /// Applies one selector rule (commands, keys, channels).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAllChannels);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.all_channels = false;
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let category = acl::parse(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.change_category(category, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' {
            let entry = lookup_command(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change(entry, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAllKeys);
        }
        let mut flags = 0;
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if flags & KEY_READ == 0 => flags |= KEY_READ,
                    b'W' if flags & KEY_WRITE == 0 => flags |= KEY_WRITE,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
        } else {
            flags = KEY_ALL;
        }
        let pattern = &op[offset..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => existing.flags |= flags,
            None => self.keys.push(KeyPattern {
                flags,
                pattern: pattern.to_vec(),
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|first-arg` for a command without subcommands.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let entry = lookup_command(name).ok_or(RuleError::UnknownCommand)?;
            self.change(entry, true);
            return Ok(());
        };
        let (base, first_arg) = (&name[..bar], &name[bar + 1..]);
        let entry = lookup_command(base).ok_or(RuleError::UnknownCommand)?;
        if entry.parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if first_arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if entry.has_subcommands() {
            let sub = lookup_command(name).ok_or(RuleError::UnknownCommand)?;
            self.change(sub, true);
            return Ok(());
        }
        match self.first_args.iter_mut().find(|(id, _)| *id == entry.id) {
            Some((_, args)) => {
                if !args.iter().any(|a| a.eq_ignore_ascii_case(first_arg)) {
                    args.push(first_arg.to_vec());
                }
            }
            None => self.first_args.push((entry.id, vec![first_arg.to_vec()])),
        }
        Ok(())
    }

    /// The command rules that rebuild this bitmap, as Redis 7.0 renders them: `+@all` or
    /// `-@all`, then the categories that fit best (more commands in common than different,
    /// fewest differences first), then the single commands still different and the first-args.
    pub fn describe_commands(&self) -> String {
        let table = command::table();
        let cats = categories();
        let additive = !self.future_commands;
        let mut rules = String::from(if additive { "-@all " } else { "+@all " });
        let mut rebuilt = Selector::new(false);
        rebuilt.set_all(!additive);
        let mut remaining = self.commands.clone();
        let mut applied = vec![false; acl::NAMES.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, (category, _)) in acl::NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0, 0);
                for (bit, cat) in remaining.iter().zip(cats) {
                    if cat & category != 0 {
                        if *bit {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(best) = best else { break };
            let (category, name) = acl::NAMES[best];
            rebuilt.change_category(category, additive);
            for (entry, cat) in table.entries.iter().zip(cats) {
                if cat & category != 0 {
                    remaining[entry.id] = !additive;
                    for sub in table.subcommands(entry) {
                        remaining[sub.id] = !additive;
                    }
                }
            }
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(name);
            rules.push(' ');
            applied[best] = true;
        }
        for entry in table.top_level() {
            self.describe_single(entry, &mut rebuilt, &mut rules);
        }
        rules.pop();
        rules
    }

    fn describe_single(&self, entry: &CommandEntry, rebuilt: &mut Selector, rules: &mut String) {
        let mine = self.commands[entry.id];
        if mine != rebuilt.commands[entry.id] {
            rules.push(if mine { '+' } else { '-' });
            rules.push_str(&entry.full_name);
            rules.push(' ');
            rebuilt.change(entry, mine);
        }
        for sub in command::table().subcommands(entry) {
            self.describe_single(sub, rebuilt, rules);
        }
        if !mine {
            if let Some((_, args)) = self.first_args.iter().find(|(id, _)| *id == entry.id) {
                for arg in args {
                    rules.push('+');
                    rules.push_str(&entry.full_name);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(arg));
                    rules.push(' ');
                }
            }
        }
    }

    /// The key patterns as GETUSER shows them.
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            key.render(&mut out);
        }
        out
    }

    /// The channel patterns as GETUSER shows them.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, channel) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(channel);
        }
        out
    }

    /// The whole selector as ACL LIST shows it: keys, channels, commands.
    pub fn describe(&self, out: &mut Vec<u8>) {
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for key in &self.keys {
                key.render(out);
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for channel in &self.channels {
                out.push(b'&');
                out.extend_from_slice(channel);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
    }
}

/// A user: its flags, password hashes (lowercase hex SHA-256) and selectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    /// `None` until `sanitize-payload` or `skip-sanitize-payload` is given.
    pub sanitize_payload: Option<bool>,
    pub passwords: Vec<String>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

/// The lowercase hex SHA-256 of a password, as Redis stores it.
pub fn hash_password(password: &[u8]) -> String {
    Sha256::digest(password)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl User {
    /// A new user as Redis creates one: off, no passwords, no permissions.
    pub fn new(name: &[u8], all_channels: bool) -> Self {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            root: Selector::new(all_channels),
            selectors: Vec::new(),
        }
    }

    /// The default user at start-up: on, every permission, `requirepass` its password.
    pub fn default_user(requirepass: &str) -> Self {
        let mut user = User::new(b"default", true);
        user.enabled = true;
        user.root.set_all(true);
        user.root.all_keys = true;
        user.set_single_password(requirepass);
        user
    }

    /// What `requirepass` sets: that one password, or none needed when it is empty.
    pub fn set_single_password(&mut self, requirepass: &str) {
        self.passwords.clear();
        self.nopass = requirepass.is_empty();
        if !requirepass.is_empty() {
            self.passwords.push(hash_password(requirepass.as_bytes()));
        }
    }

    /// Every selector, the root first.
    pub fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// Whether `password` authenticates this user (enabled, and nopass or a matching hash).
    pub fn accepts(&self, password: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&hash_password(password)))
    }

    /// Applies one rule; `all_channels` is `acl-pubsub-default` for `reset` and new selectors.
    pub fn apply(&mut self, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize_payload = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize_payload = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let before = self.passwords.len();
            self.passwords.retain(|p| *p != hash);
            if self.passwords.len() == before {
                return Err(RuleError::NoSuchPassword);
            }
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(all_channels);
            let inner = &op[1..op.len() - 1];
            for rule in crate::config::split_words(inner).unwrap_or_default() {
                selector.apply(rule.as_bytes())?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            self.nopass = false;
            self.passwords.clear();
            self.root.apply(b"resetkeys")?;
            self.root.apply(b"resetchannels")?;
            if all_channels {
                self.root.apply(b"allchannels")?;
            }
            self.enabled = false;
            self.sanitize_payload = Some(true);
            self.selectors.clear();
            self.root.apply(b"-@all")?;
        } else {
            self.root.apply(op)?;
        }
        Ok(())
    }

    /// The flags in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The user's line as ACL LIST, the ACL file and CONFIG REWRITE write it.
    pub fn line(&self) -> Vec<u8> {
        [b"user ".as_slice(), &self.name, b" ", &self.describe()].concat()
    }

    /// The user as ACL LIST and the ACL file show it, without the leading `user <name> `.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flags() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for hash in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(hash.as_bytes());
            out.push(b' ');
        }
        self.root.describe(&mut out);
        for selector in &self.selectors {
            out.extend_from_slice(b" (");
            selector.describe(&mut out);
            out.push(b')');
        }
        out
    }
}

/// Joins the arguments of a selector split over several (`(~x` `+get)`) into one, as Redis's
/// `ACLMergeSelectorArguments`; on an unclosed one, the index of its first argument.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, arg) in args.iter().enumerate() {
        if let Some((_, selector)) = &mut open {
            selector.push(b' ');
            selector.extend_from_slice(arg);
            if arg.last() == Some(&b')') {
                merged.push(open.take().map(|(_, s)| s).unwrap_or_default());
            }
            continue;
        }
        if arg.first() == Some(&b'(') && arg.last() != Some(&b')') {
            open = Some((i, arg.to_vec()));
            continue;
        }
        merged.push(arg.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"u", false);
        for rule in rules {
            u.apply(rule.as_bytes(), false).unwrap();
        }
        u
    }

    #[test]
    fn commands_render_as_redis_does() {
        assert_eq!(user(&[]).root.describe_commands(), "-@all");
        assert_eq!(user(&["+@all"]).root.describe_commands(), "+@all");
        assert_eq!(
            user(&["+@all", "-get"]).root.describe_commands(),
            "+@all -get"
        );
        assert_eq!(
            user(&["+@read", "-@read"]).root.describe_commands(),
            "-@all"
        );
        assert_eq!(
            user(&["+config|get", "-config", "+@slow", "-@slow"])
                .root
                .describe_commands(),
            "-@all"
        );
        assert_eq!(
            user(&["+select|0"]).root.describe_commands(),
            "-@all +select|0"
        );
    }

    #[test]
    fn rules_report_redis_errors() {
        let mut u = user(&["allkeys"]);
        assert_eq!(u.apply(b"~x", false), Err(RuleError::KeyAfterAllKeys));
        assert_eq!(u.apply(b"%Q~x", false), Err(RuleError::KeyAfterAllKeys));
        let mut u = user(&[]);
        assert_eq!(u.apply(b"%Q~x", false), Err(RuleError::Syntax));
        assert_eq!(
            u.apply(b"+config|get|x", false),
            Err(RuleError::FirstArgOfSubcommand)
        );
        assert_eq!(u.apply(b"+get|", false), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"#abc", false), Err(RuleError::BadHash));
        assert_eq!(u.apply(b"<nope", false), Err(RuleError::NoSuchPassword));
        assert_eq!(merge_selector_args(&[b"on", b"(~x", b"+get"]), Err(1));
    }
}
