//! Replication, as Redis 7.0 does it and byte for byte compatible with it: the replication
//! IDs and offsets ([`ReplIds`], the [`backlog::Backlog`]), the master's side (serving
//! replicas with SYNC/PSYNC, REPLCONF, WAIT) and the replica's side (the link to a master),
//! and INFO's replication section.
//!
//! The stream a master sends is the effect journal's (see `journal/`): the backlog is one of
//! its sinks. A replica applies its master's stream through the command pipeline with the
//! master-link client kind, and feeds the same bytes to its own backlog, so offsets agree
//! across a whole chain and after a promotion.

pub mod backlog;
pub mod failover;
pub mod master;
pub mod replica;
pub mod replication_family;
mod sync;

use parking_lot::Mutex;
use redis_lite_persist::ReplicationPlace;

use crate::server::{random_hex, Server};

/// The replication IDs (PSYNC2): the current history's ID and, after a promotion, the
/// master's former one with the offset up to which it is shared, so the old master's other
/// replicas can continue with the promoted one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplIds {
    pub replid: String,
    /// All zeros when there is none.
    pub replid2: String,
    /// The first offset not shared with `replid2`'s history; -1 when there is none.
    pub second_offset: i64,
}

const NO_REPLID: &str = "0000000000000000000000000000000000000000";

pub struct Replication {
    ids: Mutex<ReplIds>,
    pub backlog: backlog::Backlog,
    pub master: master::Master,
    pub failover: failover::Failover,
    /// The link to this server's master, when it is a replica.
    pub replica: replica::Replica,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            ids: Mutex::new(ReplIds {
                replid: random_hex(40),
                replid2: NO_REPLID.into(),
                second_offset: -1,
            }),
            backlog: backlog::Backlog::default(),
            master: master::Master::default(),
            failover: failover::Failover::default(),
            replica: replica::Replica::default(),
        }
    }
}

impl Replication {
    pub fn ids(&self) -> ReplIds {
        self.ids.lock().clone()
    }

    /// A new history: a new ID, and no former one (a master creating its backlog for its
    /// first replica, or a replica that lost its master's history).
    pub fn new_history(&self) {
        let mut ids = self.ids.lock();
        ids.replid = random_hex(40);
        ids.replid2 = NO_REPLID.into();
        ids.second_offset = -1;
    }

    /// A promotion (REPLICAOF NO ONE, FAILOVER): the master's ID becomes the former one, valid
    /// up to `offset`, and this server starts a history of its own.
    pub fn promote(&self, offset: u64) {
        let mut ids = self.ids.lock();
        ids.replid2 = std::mem::replace(&mut ids.replid, random_hex(40));
        ids.second_offset = offset as i64 + 1;
    }

    /// A replica adopts its master's history: after `+FULLRESYNC replid offset`, or
    /// `+CONTINUE replid` when the master's ID changed (it was promoted), in which case the
    /// old one stays valid up to `offset`.
    pub fn adopt(&self, replid: &str, continued_at: Option<u64>) {
        let mut ids = self.ids.lock();
        match continued_at {
            Some(offset) if ids.replid != replid => {
                ids.replid2 = std::mem::replace(&mut ids.replid, replid.to_string());
                ids.second_offset = offset as i64 + 1;
            }
            Some(_) => {}
            None => {
                ids.replid = replid.to_string();
                ids.replid2 = NO_REPLID.into();
                ids.second_offset = -1;
            }
        }
    }

    /// Whether `PSYNC replid offset` may continue this server's stream: the ID is the current
    /// one, or the former one and the offset within the shared history; and the backlog still
    /// holds the offset.
    pub fn can_continue(&self, replid: &str, psync_offset: u64) -> bool {
        let ids = self.ids();
        let known = replid == ids.replid
            || (replid == ids.replid2 && psync_offset as i64 <= ids.second_offset);
        known && self.backlog.can_continue_from(psync_offset)
    }
}

/// Where a snapshot taken now stands in this server's replication stream, as Redis's
/// `rdbPopulateSaveInfo` decides: on a master only while it has a backlog (it is part of a
/// replication chain), on a replica once it has its master's history. Called at the cut, with
/// the master link held still (see [`replica::hold_link`]).
pub fn save_place(server: &Server) -> Option<ReplicationPlace> {
    let replication = &server.replication;
    let stream_db = match replication.replica.is_replica() {
        true => replication.replica.stream_db()?,
        // A stream that will start with a SELECT may be taken up in any database, as Redis
        // records 0 for it.
        false if replication.backlog.is_active() => {
            server.journal.replicas_selected_db().unwrap_or(0)
        }
        false => return None,
    };
    Some(ReplicationPlace {
        stream_db,
        replid: replication.ids().replid,
        offset: replication.backlog.pull(),
    })
}

/// A server restarted from a snapshot that recorded its place in a replication stream takes it
/// up, as Redis does after loading an RDB at start-up: a replica offers that history to its
/// master; a master keeps it as its former history (`master_replid2`), with a backlog from
/// that offset, so that its replicas can continue after its restart; the keys the load
/// dropped as expired (`expired`) are deleted in that stream, as Redis sends them, since the
/// replicas still hold them.
pub fn restore_place(server: &Server, place: ReplicationPlace, expired: &[(usize, Vec<u8>)]) {
    // A cluster node is a replica when its nodes.conf says so; it follows its master later.
    let cluster_replica = server
        .cluster
        .node()
        .is_some_and(|node| node.read().myself().is_replica());
    if server.config.read().replicaof.is_some() || cluster_replica {
        return replica::restore_place(server, place);
    }
    let replication = &server.replication;
    {
        let mut ids = replication.ids.lock();
        ids.replid2 = place.replid;
        ids.second_offset = place.offset as i64 + 1;
    }
    replication.backlog.restore_offset(place.offset);
    replication.backlog.activate_from_journal();
    let verb = match server.config.read().tuning.lazyfree_lazy_expire {
        true => b"UNLINK".as_slice(),
        false => b"DEL",
    };
    for (db, key) in expired {
        server.journal.record(*db, &[verb, key], false);
    }
    replication.backlog.pull();
    replication.master.left_alone();
}

/// Redis's critical log line for an error reply on a replication link (`from` "replica" to
/// "master", or the other way): the datasets differ, or a peer misbehaves. Redis quotes the
/// message as its command built it: a plain ERR without its code.
pub(crate) fn log_error_on_link(from: &str, to: &str, reply: &[u8], command: &str) {
    let message = reply.strip_suffix(b"\r\n").unwrap_or(reply);
    let message = message.strip_prefix(b"-ERR ").unwrap_or(message);
    let message = String::from_utf8_lossy(&message[..message.len().min(4096)]);
    crate::log!(
        Warning,
        "== CRITICAL == This {from} is sending an error to its {to}: '{message}' after processing the command '{command}'"
    );
}

/// `rdb-del-sync-files`: whether the RDB file a disk-based sync wrote is deleted once used,
/// which Redis does only where nothing else persists (no save points, no AOF), so the file
/// would otherwise hold a copy of the data nobody asked to keep.
pub fn deletes_sync_files(config: &crate::config::Config) -> bool {
    config.tuning.rdb_del_sync_files && config.save_rules.is_empty() && !config.appendonly
}

/// INFO's `# Replication` section, with Redis's fields in its order.
pub fn info_section(server: &Server, out: &mut String) {
    let replication = &server.replication;
    let ids = replication.ids();
    let backlog = &replication.backlog;
    let offset = backlog.pull();
    let (first_byte, histlen) = backlog.history();
    let mut lines = vec!["# Replication".to_string()];
    match replication.replica.is_replica() {
        true => replica::info_fields(server, &mut lines),
        false => lines.push("role:master".to_string()),
    }
    lines.push(format!(
        "connected_slaves:{}",
        replication.master.connected()
    ));
    let (min_replicas, max_lag) = {
        let config = server.config.read();
        (config.min_replicas_to_write, config.min_replicas_max_lag)
    };
    if min_replicas > 0 && max_lag > 0 {
        lines.push(format!(
            "min_slaves_good_slaves:{}",
            replication.master.good_replicas()
        ));
    }
    replication.master.info_lines(&mut lines);
    lines.extend([
        format!(
            "master_failover_state:{}",
            replication.failover.phase().name()
        ),
        format!("master_replid:{}", ids.replid),
        format!("master_replid2:{}", ids.replid2),
        format!("master_repl_offset:{offset}"),
        format!("second_repl_offset:{}", ids.second_offset),
        format!("repl_backlog_active:{}", u8::from(backlog.is_active())),
        format!(
            "repl_backlog_size:{}",
            server.config.read().repl_backlog_size
        ),
        format!("repl_backlog_first_byte_offset:{first_byte}"),
        format!("repl_backlog_histlen:{histlen}"),
    ]);
    for line in lines {
        out.push_str(&line);
        out.push_str("\r\n");
    }
}
