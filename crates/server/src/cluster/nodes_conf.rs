//! `cluster-config-file` (nodes.conf) in Redis's format: one CLUSTER NODES line per node, then
//! `vars currentEpoch N lastVoteEpoch M`. Read at start-up (a file that does not parse stops
//! the server, as in Redis), written after every change. A durable save (a new epoch, role or
//! vote) goes to a temporary file, fsynced, then renamed over the old one, so that even a
//! machine's crash leaves the old file or the new one; the other saves (slot assignments,
//! thousands of them in a resharding) overwrite the file in place as Redis 7.0 does every save,
//! through the descriptor that holds its lock: no file created or freed, no descriptor opened.
//! An exclusive `flock` keeps two nodes from sharing the file; it is taken again on the renamed
//! file, and the replaced file's descriptor is closed on a thread of its own ([`close_later`]).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use super::state::{node_flags, ClusterState, Node, SLOTS};

/// Why nodes.conf could not be read.
#[derive(Debug, PartialEq)]
pub enum LoadError {
    /// The line that does not parse, as Redis quotes it.
    Corrupted(String),
    Io(String),
}

/// Reads nodes.conf. `Ok(None)` when it is missing or empty: a new node.
pub fn load(path: &Path) -> Result<Option<ClusterState>, LoadError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Io(e.to_string())),
    };
    let text = String::from_utf8_lossy(&text);
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse(&text).map(Some)
}

/// Parses the file's text.
pub fn parse(text: &str) -> Result<ClusterState, LoadError> {
    let mut state: Option<ClusterState> = None;
    let mut others: Vec<Node> = Vec::new();
    let mut open: Vec<(usize, bool, String)> = Vec::new();
    let mut slots: Vec<(usize, String)> = Vec::new();
    let mut vars: Vec<(String, u64)> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').filter(|f| !f.is_empty()).collect();
        if fields.is_empty() {
            continue;
        }
        let corrupted = || LoadError::Corrupted(line.to_string());
        if fields[0] == "vars" {
            if fields.len().is_multiple_of(2) {
                return Err(corrupted());
            }
            for pair in fields[1..].chunks(2) {
                let value = pair[1].parse::<u64>().map_err(|_| corrupted())?;
                match pair[0] {
                    "currentEpoch" | "lastVoteEpoch" => vars.push((pair[0].to_string(), value)),
                    _ => return Err(corrupted()),
                }
            }
            continue;
        }
        if fields.len() < 8 {
            return Err(corrupted());
        }
        let node = parse_node(&fields).ok_or_else(corrupted)?;
        for field in &fields[8..] {
            if let Some(open_slot) = field.strip_prefix('[') {
                let open_slot = open_slot.strip_suffix(']').ok_or_else(corrupted)?;
                let (slot, importing, peer) =
                    if let Some((slot, peer)) = open_slot.split_once("->-") {
                        (slot, false, peer)
                    } else if let Some((slot, peer)) = open_slot.split_once("-<-") {
                        (slot, true, peer)
                    } else {
                        return Err(corrupted());
                    };
                let slot = parse_slot(slot).ok_or_else(corrupted)?;
                open.push((slot, importing, peer.to_string()));
                continue;
            }
            let (start, end) = match field.split_once('-') {
                Some((start, end)) => (start, end),
                None => (*field, *field),
            };
            let (start, end) = (
                parse_slot(start).ok_or_else(corrupted)?,
                parse_slot(end).ok_or_else(corrupted)?,
            );
            for slot in start..=end {
                slots.push((slot, node.id.clone()));
            }
        }
        if node.flags & node_flags::MYSELF != 0 {
            if state.is_some() {
                return Err(corrupted());
            }
            state = Some(ClusterState::new(node.id.clone()));
            state.as_mut().expect("just set").set_myself(node);
        } else {
            others.push(node);
        }
    }
    let Some(mut state) = state else {
        return Err(LoadError::Corrupted(String::new()));
    };
    for node in others {
        if state.index_of(node.id.as_bytes()).is_some() {
            return Err(LoadError::Corrupted(node.id));
        }
        state.add_node(node);
    }
    // A replica's master may be known only by its ID: it becomes a node without address.
    let masters: Vec<String> = state
        .nodes
        .iter()
        .filter_map(|n| n.master.clone())
        .collect();
    for master in masters {
        if state.index_of(master.as_bytes()).is_none() {
            state.add_node(Node::new(master, node_flags::MASTER | node_flags::NOADDR));
        }
    }
    for (slot, id) in slots {
        let node = state.index_of(id.as_bytes()).expect("every node was added");
        state.assign(slot, node);
    }
    for (slot, importing, peer) in open {
        let Some(node) = state.index_of(peer.as_bytes()) else {
            return Err(LoadError::Corrupted(peer));
        };
        if importing {
            state.set_importing(slot, Some(node));
        } else {
            state.set_migrating(slot, Some(node));
        }
    }
    for (name, value) in vars {
        match name.as_str() {
            "currentEpoch" => state.current_epoch = value,
            _ => state.last_vote_epoch = value,
        }
    }
    // As Redis: the current epoch is at least every config epoch known.
    state.current_epoch = state.max_epoch();
    Ok(state)
}

fn parse_slot(text: &str) -> Option<usize> {
    text.parse::<usize>().ok().filter(|&slot| slot < SLOTS)
}

/// `id ip:port@cport[,hostname] flags master ping pong epoch link`.
fn parse_node(fields: &[&str]) -> Option<Node> {
    let id = fields[0];
    if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut node = Node::new(id.to_string(), 0);
    let (address, hostname) = match fields[1].split_once(',') {
        Some((address, hostname)) => (address, hostname),
        None => (fields[1], ""),
    };
    node.hostname = hostname.to_string();
    let (ip_port, cport) = address.split_once('@')?;
    let (ip, port) = ip_port.rsplit_once(':')?;
    node.ip = ip.to_string();
    node.port = port.parse().ok()?;
    node.cport = cport.parse().ok()?;
    for flag in fields[2].split(',') {
        if flag == "noflags" {
            continue;
        }
        let (bit, _) = node_flags::NAMES.iter().find(|(_, name)| *name == flag)?;
        node.flags |= bit;
    }
    if fields[3] != "-" {
        node.master = Some(fields[3].to_string());
    }
    // As Redis: a ping or pong recorded at all counts as one just now.
    let now = super::now_ms();
    node.ping_sent = if fields[4].parse::<u64>().ok()? != 0 {
        now
    } else {
        0
    };
    node.pong_received = if fields[5].parse::<u64>().ok()? != 0 {
        now
    } else {
        0
    };
    node.config_epoch = fields[6].parse().ok()?;
    Some(node)
}

/// The file's text for `state`.
pub fn render(state: &ClusterState) -> String {
    let mut text = state.describe_all(false, false);
    text.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        state.current_epoch, state.last_vote_epoch
    ));
    text
}

/// nodes.conf, locked while this node runs.
pub struct ConfigFile {
    path: PathBuf,
    /// `cluster-config-file` as configured, for messages (Redis's are relative to `dir`).
    name: String,
    /// The file, open for reading and writing (never appending, so that an in-place save
    /// writes from its start), holding the lock.
    lock: File,
    /// The file's length, which an in-place save pads a shorter text to before truncating.
    len: u64,
}

impl ConfigFile {
    /// Takes the file's lock (creating it when missing), as Redis does before it serves.
    pub fn lock(path: &Path, name: &str) -> Result<Self, String> {
        let lock = lock_file(path, name)?;
        let len = lock.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(ConfigFile {
            path: path.to_path_buf(),
            name: name.to_string(),
            lock,
            len,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `text` ([`render`]'s). `durable` writes it atomically (a temporary file flushed
    /// to disk, renamed over the old one, the directory flushed, the new file locked), so that
    /// it survives the machine's crash and not only the process's. Otherwise the text
    /// overwrites the file in place, as Redis 7.0 saves: a shorter text is first padded with
    /// newlines to the old length, then the file is cut to it, so that a crash between the two
    /// leaves the new text followed by blank lines (which [`parse`] skips), never the old
    /// text's tail; a killed process leaves the whole text in the page cache either way.
    pub fn save(&mut self, text: &str, durable: bool) -> std::io::Result<()> {
        if durable {
            self.replace(text)
        } else {
            self.overwrite(text)
        }
    }

    fn overwrite(&mut self, text: &str) -> std::io::Result<()> {
        let new_len = text.len() as u64;
        if new_len >= self.len {
            self.lock.write_all_at(text.as_bytes(), 0)?;
        } else {
            let mut padded = Vec::with_capacity(self.len as usize);
            padded.extend_from_slice(text.as_bytes());
            padded.resize(self.len as usize, b'\n');
            self.lock.write_all_at(&padded, 0)?;
            self.lock.set_len(new_len)?;
        }
        self.len = new_len;
        Ok(())
    }

    fn replace(&mut self, text: &str) -> std::io::Result<()> {
        let mut temp_name = self.path.clone().into_os_string();
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = PathBuf::from(temp_name);
        let written = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
            return written;
        }
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
        let lock = lock_file(&self.path, &self.name).map_err(std::io::Error::other)?;
        close_later(std::mem::replace(&mut self.lock, lock));
        self.len = text.len() as u64;
        Ok(())
    }
}

/// Closes the descriptor of a nodes.conf that a save renamed over, on a thread of its own:
/// that close drops the last reference to the old file, which the filesystem frees then,
/// taking milliseconds on a busy disk. Inline it was most of a SETSLOT's time (2-4 ms each,
/// where Redis takes 0.05 ms), and a resharding saves several times per slot. Closed inline
/// when the thread cannot be started.
fn close_later(file: File) {
    static CLOSER: OnceLock<Option<Sender<File>>> = OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (sender, receiver) = channel::<File>();
        std::thread::Builder::new()
            .name("cluster-conf-close".into())
            .spawn(move || receiver.into_iter().for_each(drop))
            .ok()
            .map(|_| sender)
    });
    if let Some(sender) = closer {
        let _ = sender.send(file);
    }
}

fn lock_file(path: &Path, name: &str) -> Result<File, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("Can't open {name} in order to acquire a lock: {e}"))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(format!(
                "Sorry, the cluster configuration file {name} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files."
            ));
        }
        return Err(format!("Impossible to lock {name}: {error}"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_reads_back_the_same() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let text = format!(
            "{a} 127.0.0.1:7000@17000,host-a myself,master - 0 0 3 connected 0-2 7 [7->-{b}] [9-<-{b}]\n\
             {b} 127.0.0.1:7001@17001 master - 0 0 2 disconnected 9-16383\n\
             vars currentEpoch 3 lastVoteEpoch 1\n"
        );
        let state = parse(&text).unwrap();
        assert_eq!(state.myself().hostname, "host-a");
        assert_eq!(state.current_epoch, 3);
        assert_eq!(state.last_vote_epoch, 1);
        assert_eq!(state.migrating_to(7), Some(1));
        assert_eq!(state.importing_from(9), Some(1));
        assert_eq!(render(&state), text);
    }

    /// Saves in place (shorter, then longer) and atomic ones in any order leave exactly the
    /// last text, through the same locked file.
    #[test]
    fn every_kind_of_save_leaves_exactly_the_last_text() {
        let dir = std::env::temp_dir().join(format!("nodes-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nodes.conf");
        let mut file = ConfigFile::lock(&path, "nodes.conf").unwrap();
        let long = "a line that is rather long\nvars currentEpoch 1 lastVoteEpoch 0\n";
        let short = "short\n";
        for (text, durable) in [
            (long, true),
            (short, false),
            (long, false),
            (short, true),
            (long, true),
            (short, false),
        ] {
            file.save(text, durable).unwrap();
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                text,
                "durable {durable}"
            );
        }
        // The lock follows the renamed file: a second node is refused.
        assert!(ConfigFile::lock(&path, "nodes.conf").is_err());
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_refused() {
        let a = "a".repeat(40);
        for text in [
            "garbage\n".to_string(),
            format!("{a} :7000@17000 myself,master - 0 0 0 connected 16384\n"),
            format!("{a} :7000@17000 myself,bogus - 0 0 0 connected\n"),
            format!("{a} :7000@17000 master - 0 0 0 connected\n"),
            format!("{a} :7000@17000 myself,master - 0 0 0 connected\nvars currentEpoch x\n"),
        ] {
            assert!(
                matches!(parse(&text), Err(LoadError::Corrupted(_))),
                "{text}"
            );
        }
    }
}
