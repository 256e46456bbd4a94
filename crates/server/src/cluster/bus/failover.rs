//! Replica failover on the bus: FAILOVER_AUTH_REQUEST and ACK (votes), MFSTART and the PAUSED
//! flag (manual failover), and the replica's part of the cron (elections, following its master,
//! migrating to an orphaned master). The rules are [`election`]'s; this file only sends and
//! receives, and runs what they decide.

use rand::Rng;
use redis_lite_clusterbus::{Body, Header, Message, MessageFlags, MessageType};

use super::core::Core;
use crate::cluster::election::{self, Step, VoteRequest, MANUAL_FAILOVER_PAUSE_MS};
use crate::cluster::now_ms;
use crate::cluster::state::ClusterState;
use crate::dispatch::pause::{PauseKind, Purpose};
use crate::log;

impl Core {
    /// Every message from a known node: from this replica's master, paused for a manual
    /// failover, the offset to catch up with.
    pub(super) fn paused_master_heard(&mut self, st: &ClusterState, sender: usize, h: &Header) {
        let from_my_master = st.myself().is_replica() && st.master_of(0) == Some(sender);
        if from_my_master
            && h.mflags.contains(MessageFlags::PAUSED)
            && self.node().election.lock().master_paused_at(h.offset)
        {
            log!(
                Warning,
                "Received replication offset for paused master manual failover: {}",
                h.offset
            );
        }
    }

    /// A FAILOVER_AUTH_REQUEST from `sender`: a FAILOVER_AUTH_ACK if the rules grant the vote.
    /// Whether the vote was given (nodes.conf keeps the last vote's epoch).
    pub(super) fn auth_requested(
        &mut self,
        st: &mut ClusterState,
        sender: usize,
        h: &Header,
    ) -> bool {
        let claims = |slot: usize| h.slots.contains(slot as u16);
        let request = VoteRequest {
            sender,
            current_epoch: h.current_epoch,
            config_epoch: h.config_epoch,
            claims: &claims,
            force_ack: h.mflags.contains(MessageFlags::FORCE_ACK),
        };
        let node_timeout = self.node_timeout();
        let vote = self
            .node()
            .election
            .lock()
            .vote(st, &request, now_ms(), node_timeout);
        let requester = st.nodes[sender].id.clone();
        match vote {
            Ok(()) => {
                if let Some(link) = self.link_to(&requester) {
                    let config = self.server.config.read().clone();
                    let header = self.header(st, &config);
                    self.queue(link, Message::new(header, Body::FailoverAuthAck));
                }
                log!(
                    Warning,
                    "Failover auth granted to {requester} for epoch {}",
                    st.current_epoch
                );
                true
            }
            Err(refusal) => {
                if let Some(line) = refusal.describe(&requester) {
                    log!(Warning, "{line}");
                }
                false
            }
        }
    }

    /// A FAILOVER_AUTH_ACK: a vote for this replica's election, if it counts.
    pub(super) fn vote_received(&mut self, st: &ClusterState, sender: usize, h: &Header) {
        self.node()
            .election
            .lock()
            .count_vote(st, sender, h.current_epoch);
    }

    /// An MFSTART from `replica`, if it is one of this master's: writes pause, and a PING on
    /// `link` tells the replica the offset they paused at. The pause is set holding every gate,
    /// so no write is halfway through when the offset is read.
    pub(super) fn manual_failover_requested(&mut self, replica: &str, link: u64) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        {
            let st = node.read();
            let mine = st.index_of(replica.as_bytes()).is_some_and(|r| {
                st.nodes[r].is_replica()
                    && st.nodes[r].master.as_deref() == Some(st.myself().id.as_str())
            });
            if !mine || !st.myself().is_master() {
                return;
            }
        }
        let now = now_ms();
        node.election
            .lock()
            .manual_requested(now, replica.to_string());
        election::with_every_gate(&server, || {
            server.pause.pause(
                &server,
                Purpose::Failover,
                PauseKind::Write,
                (now + MANUAL_FAILOVER_PAUSE_MS) as i64,
            )
        });
        log!(Warning, "Manual failover requested by replica {replica}.");
        self.send_heartbeat(&mut node.write(), link, MessageType::Ping);
    }

    /// CLUSTER FAILOVER (neither FORCE nor TAKEOVER): MFSTART to this replica's master.
    pub(super) fn send_manual_failover_start(&mut self) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let st = node.read();
        let Some(master) = st.master_of(0).filter(|_| st.myself().is_replica()) else {
            return;
        };
        if let Some(link) = self.link_to(&st.nodes[master].id) {
            let config = server.config.read().clone();
            let header = self.header(&st, &config);
            self.queue(link, Message::new(header, Body::MfStart));
        }
    }

    /// A PONG to every node in `targets` linked to (a new master telling the cluster, a
    /// candidate telling its fellow replicas its offset).
    fn pong_to(&mut self, st: &mut ClusterState, targets: &[usize]) {
        for &target in targets {
            if let Some(link) = self.link_to(&st.nodes[target].id.clone()) {
                self.send_heartbeat(st, link, MessageType::Pong);
            }
        }
    }

    /// A PONG to every other node: this node changed role or slots.
    pub(super) fn broadcast_pong(&mut self) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let mut st = node.write();
        let everyone: Vec<usize> = (1..st.nodes.len()).collect();
        self.pong_to(&mut st, &everyone);
    }

    /// The failover part of the cron: a manual failover timing out; and on a replica, the
    /// replication link pointed at its master, the manual failover's catching up, the
    /// election (Redis's `clusterHandleSlaveFailover`), and replica migration.
    pub(super) fn failover_cron(&mut self) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let config = server.config.read().clone();
        let now = now_ms();
        if let Some(given_up) = node.election.lock().manual_timed_out(now) {
            log!(Warning, "Manual failover timed out.");
            if given_up.replica.is_some() {
                server.pause.unpause(&server, Purpose::Failover);
            }
        }
        let mut st = node.write();
        if !st.myself().is_replica() {
            return;
        }
        if let Some((ip, port)) = election::master_to_follow(&server, &st) {
            drop(st);
            election::with_every_gate(&server, || {
                crate::replication::replica::follow(&server, ip, port)
            });
            return;
        }
        let offset = server.replication.replica.processed_offset(&server);
        let view = election::ReplicaView {
            now_ms: now,
            node_timeout_ms: self.node_timeout(),
            validity_factor: config.cluster.replica_validity_factor.max(0) as u64,
            no_failover: config.cluster.replica_no_failover,
            ping_period_ms: config.repl_ping_replica_period * 1000,
            data_age_ms: server.replication.replica.silence_ms(),
            offset,
            jitter_ms: rand::thread_rng().gen_range(0..500),
        };
        let step = {
            let mut election = node.election.lock();
            if election.manual_step(offset) {
                log!(
                    Warning,
                    "All master replication stream processed, manual failover can start."
                );
            }
            election.replica_step(&mut st, &view)
        };
        match step {
            Step::Idle => {}
            Step::Waiting(why) => {
                let fail_time = st.master_of(0).map_or(0, |m| st.nodes[m].live.fail_time);
                let log_it =
                    node.election
                        .lock()
                        .log_waiting(why, now, fail_time, view.node_timeout_ms);
                if log_it {
                    log!(Warning, "Currently unable to failover: {why}");
                }
            }
            Step::Scheduled { delay_ms, rank } => {
                log!(
                    Notice,
                    "Start of election delayed for {delay_ms} milliseconds (rank #{rank}, offset {offset})."
                );
                // The other replicas of the master learn this one's offset, and rank themselves.
                let fellows: Vec<usize> = st
                    .master_of(0)
                    .map(|m| st.replicas_of(m))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&r| r != 0)
                    .collect();
                self.pong_to(&mut st, &fellows);
            }
            Step::Delayed { rank, added_ms } => log!(
                Notice,
                "Replica rank updated to #{rank}, added {added_ms} milliseconds of delay."
            ),
            Step::RequestVotes { epoch, force_ack } => {
                log!(Notice, "Starting a failover election for epoch {epoch}.");
                let mut header = self.header(&st, &config);
                if force_ack {
                    header.mflags = header.mflags | MessageFlags::FORCE_ACK;
                }
                for i in 1..st.nodes.len() {
                    if let Some(link) = self.link_to(&st.nodes[i].id.clone()) {
                        self.queue(
                            link,
                            Message::new(header.clone(), Body::FailoverAuthRequest),
                        );
                    }
                }
                drop(st);
                node.save_after_change();
            }
            Step::Won => {
                log!(Notice, "Failover election won: I'm the new master.");
                log!(
                    Notice,
                    "configEpoch set to {} after successful failover",
                    st.myself().config_epoch
                );
                drop(st);
                self.promote();
            }
        }
    }

    /// Replica migration, from the cron: to an orphaned master, when the rules pick this
    /// replica.
    pub(super) fn migration_cron(&mut self) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let config = server.config.read().clone();
        if !config.cluster.allow_replica_migration {
            return;
        }
        let mut st = node.write();
        if !st.myself().is_replica() || !node.serving(&st, &config) {
            return;
        }
        let barrier = config.cluster.migration_barrier.max(0) as usize;
        let target = node
            .election
            .lock()
            .migration_target(&st, barrier, now_ms());
        let Some(target) = target else {
            return;
        };
        log!(
            Notice,
            "Migrating to orphaned master {}",
            st.nodes[target].id
        );
        election::set_master(&mut st, target);
        drop(st);
        node.save_after_change();
    }

    /// This replica takes its master's place: promoted under every gate, then a PONG to all.
    pub(super) fn promote(&mut self) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let promoted =
            election::with_every_gate(&server, || election::replace_master(&server, node));
        if promoted {
            self.broadcast_pong();
        }
    }
}
