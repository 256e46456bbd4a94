//! Replica failover in a cluster, as Redis 7.0 runs it: the rules as functions over
//! [`ClusterState`], with the little state they keep between cron ticks ([`Election`]).
//!
//! - A replica whose master is FAIL (or asked by CLUSTER FAILOVER) schedules an election after
//!   500 ms + a random 0-500 ms + 1 s per replica of the same master with a greater offset
//!   ([`replica_rank`]), bumps the current epoch, asks every master for its vote, and with a
//!   majority of the masters serving slots takes its master's slots under the election's epoch
//!   ([`Election::replica_step`], [`take_over`]).
//! - A master votes once per epoch, not twice about the same master within two node timeouts,
//!   and only for a replica whose master is FAIL (or a manual failover) and whose claimed
//!   slots are not served here under a newer config epoch ([`Election::vote`]).
//! - A manual failover ([`ManualFailover`]): the master pauses writes and announces its offset
//!   (the PAUSED flag), the replica waits for it, then elects with everyone's agreement.
//! - Replica migration: a replica of the master with the most replicas moves to an orphaned
//!   master ([`Election::migration_target`]).
//!
//! Sending and receiving the messages is the bus's part; it calls these at each event.

use std::collections::HashMap;
use std::sync::Arc;

use super::state::{node_flags::*, ClusterState};
use super::ClusterNode;
use crate::dispatch::pause::Purpose;
use crate::server::Server;

/// How long a manual failover may take before it is given up (Redis's `CLUSTER_MF_TIMEOUT`).
pub const MANUAL_FAILOVER_TIMEOUT_MS: u64 = 5000;

/// How long a master pauses its writes for a manual failover: twice the timeout, so that the
/// pause outlives the failover.
pub const MANUAL_FAILOVER_PAUSE_MS: u64 = MANUAL_FAILOVER_TIMEOUT_MS * 2;

/// How often the same reason for not failing over is logged again.
const WAITING_RELOG_MS: u64 = 10_000;

/// How long a master must stay orphaned before a replica migrates to it, so that its own
/// replicas have time to announce they follow it.
const MIGRATION_DELAY_MS: u64 = 5000;

/// A manual failover in progress, on either side: the replica asked by CLUSTER FAILOVER, or
/// the master that replica sent MFSTART to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManualFailover {
    /// When it is given up (unix ms).
    pub end_ms: u64,
    /// Replica side: the master's offset once it announced it paused (PAUSED flag).
    pub master_offset: Option<u64>,
    /// Replica side: the offset was reached (or FORCE): the election may start.
    pub can_start: bool,
    /// Master side: the replica that asked.
    pub replica: Option<String>,
}

/// Why a master does not vote for a replica, with Redis's log text. A replica or a master with
/// no slots has no vote and says nothing ([`Refusal::NoVote`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NoVote,
    StaleEpoch {
        requested: u64,
        current: u64,
    },
    AlreadyVoted {
        epoch: u64,
    },
    IsMaster,
    UnknownMaster,
    MasterUp,
    TooSoon {
        wait_ms: u64,
    },
    NewerSlot {
        slot: usize,
        epoch: u64,
        requested: u64,
    },
}

impl Refusal {
    /// The log line for a refusal to `requester`, or None where Redis logs nothing.
    pub fn describe(&self, requester: &str) -> Option<String> {
        let why = match self {
            Refusal::NoVote => return None,
            Refusal::StaleEpoch { requested, current } => {
                format!("reqEpoch ({requested}) < curEpoch({current})")
            }
            Refusal::AlreadyVoted { epoch } => format!("already voted for epoch {epoch}"),
            Refusal::IsMaster => "it is a master node".into(),
            Refusal::UnknownMaster => "I don't know its master".into(),
            Refusal::MasterUp => "its master is up".into(),
            Refusal::TooSoon { wait_ms } => {
                return Some(format!(
                    "Failover auth denied to {requester:.40}: can't vote about this master before {wait_ms} milliseconds"
                ))
            }
            Refusal::NewerSlot {
                slot,
                epoch,
                requested,
            } => format!("slot {slot} epoch ({epoch}) > reqEpoch ({requested})"),
        };
        Some(format!("Failover auth denied to {requester:.40}: {why}"))
    }
}

/// A FAILOVER_AUTH_REQUEST as the master receiving it reads it.
pub struct VoteRequest<'a> {
    /// The requesting replica, by index in the state.
    pub sender: usize,
    pub current_epoch: u64,
    /// The config epoch the replica claims its slots under (its master's).
    pub config_epoch: u64,
    /// Whether the replica claims `slot` (its master's slots).
    pub claims: &'a dyn Fn(usize) -> bool,
    /// A manual failover: vote even though the master is not failing.
    pub force_ack: bool,
}

/// What a replica sees of itself when its cron asks [`Election::replica_step`] what to do.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaView {
    pub now_ms: u64,
    pub node_timeout_ms: u64,
    /// `cluster-replica-validity-factor`; 0: any data is recent enough.
    pub validity_factor: u64,
    /// `cluster-replica-no-failover`: only a manual failover promotes this replica.
    pub no_failover: bool,
    /// `repl-ping-replica-period`, in ms.
    pub ping_period_ms: u64,
    /// How long since this replica last heard from its master.
    pub data_age_ms: u64,
    /// The replication offset this replica processed.
    pub offset: u64,
    /// 0-499: the random part of the election delay.
    pub jitter_ms: u64,
}

/// What the replica's cron is to do after [`Election::replica_step`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: not a replica of a failing master (nor asked to fail over).
    Idle,
    /// An election was scheduled in `delay_ms`: tell the other replicas of the master this
    /// replica's offset (a PONG to them), so that a better one goes first.
    Scheduled { delay_ms: u64, rank: usize },
    /// The rank worsened since the election was scheduled: it starts later.
    Delayed { rank: usize, added_ms: u64 },
    /// Ask every master for its vote for `epoch` (FAILOVER_AUTH_REQUEST, FORCE_ACK when this
    /// is a manual failover).
    RequestVotes { epoch: u64, force_ack: bool },
    /// A majority voted: take over the master's slots ([`take_over`]).
    Won,
    /// Can't fail over (yet), and why, in Redis's words (logged as [`Election::log_waiting`]
    /// says).
    Waiting(&'static str),
}

/// The election state between cron ticks, as Redis keeps it in its cluster state.
#[derive(Debug, Default)]
pub struct Election {
    /// Replica side: when the scheduled election starts (it started, once votes were asked).
    auth_time: u64,
    /// Votes received for `auth_epoch`.
    auth_count: usize,
    auth_sent: bool,
    auth_rank: usize,
    auth_epoch: u64,
    pub manual: Option<ManualFailover>,
    /// Master side: when this node last voted for a replica of each master, by the master's
    /// ID.
    voted_about: HashMap<String, u64>,
    /// Since when each master is orphaned (serving slots with no working replica).
    orphaned_since: HashMap<String, u64>,
    /// The last reason for not failing over, and when it was last logged.
    last_waiting: Option<(&'static str, u64)>,
}

/// A replica's rank among its master's replicas: how many of those that may fail over have a
/// greater replication offset than `offset`. The best replica has rank 0 and goes first.
pub fn replica_rank(state: &ClusterState, offset: u64) -> usize {
    let Some(master) = state.master_of(0) else {
        return 0;
    };
    state
        .replicas_of(master)
        .into_iter()
        .filter(|&r| r != 0)
        .map(|r| &state.nodes[r])
        .filter(|n| n.flags & NOFAILOVER == 0 && n.live.repl_offset > offset)
        .count()
}

/// The election delay: 500 ms for the FAIL to propagate, a random 0-500 ms so replicas do
/// not collide, and a second per better replica.
pub fn election_delay(rank: usize, jitter_ms: u64) -> u64 {
    500 + jitter_ms % 500 + rank as u64 * 1000
}

/// The votes a replica needs: a majority of the masters serving slots.
pub fn quorum(state: &ClusterState) -> usize {
    state.size() / 2 + 1
}

impl Election {
    /// Whether a manual failover is under way and its election may start.
    fn manual_can_start(&self) -> bool {
        self.manual.as_ref().is_some_and(|m| m.can_start)
    }

    /// The replica's cron step (Redis's `clusterHandleSlaveFailover`): decides whether to
    /// schedule, start or conclude an election. Bumps the current epoch when it asks for votes,
    /// and sets this node's config epoch to the election's when it won.
    pub fn replica_step(&mut self, state: &mut ClusterState, view: &ReplicaView) -> Step {
        let manual = self.manual_can_start();
        let auth_age = view.now_ms.saturating_sub(self.auth_time);
        let auth_timeout = (view.node_timeout_ms * 2).max(2000);
        let auth_retry = auth_timeout * 2;
        let Some(master) = state.master_of(0) else {
            return Step::Idle;
        };
        if !state.myself().is_replica()
            || (!state.nodes[master].is_failed() && !manual)
            || (view.no_failover && !manual)
            || state.slot_count(master) == 0
        {
            self.last_waiting = None;
            return Step::Idle;
        }
        // Disconnected for the node timeout is what made the master FAIL: only the time past
        // it counts against the data's freshness.
        let mut data_age = view.data_age_ms;
        if data_age > view.node_timeout_ms {
            data_age -= view.node_timeout_ms;
        }
        if view.validity_factor != 0
            && data_age > view.ping_period_ms + view.node_timeout_ms * view.validity_factor
            && !manual
        {
            return Step::Waiting("Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.");
        }
        if auth_age > auth_retry {
            let rank = replica_rank(state, view.offset);
            self.auth_count = 0;
            self.auth_sent = false;
            if self.manual.is_some() {
                // A manual failover goes at once.
                self.auth_time = view.now_ms;
                self.auth_rank = 0;
            } else {
                self.auth_time = view.now_ms + election_delay(rank, view.jitter_ms);
                self.auth_rank = rank;
            }
            return Step::Scheduled {
                delay_ms: self.auth_time - view.now_ms,
                rank: self.auth_rank,
            };
        }
        if !self.auth_sent && self.manual.is_none() {
            let rank = replica_rank(state, view.offset);
            if rank > self.auth_rank {
                let added_ms = (rank - self.auth_rank) as u64 * 1000;
                self.auth_time += added_ms;
                self.auth_rank = rank;
                return Step::Delayed { rank, added_ms };
            }
        }
        if view.now_ms < self.auth_time {
            return Step::Waiting("Waiting the delay before I can start a new failover.");
        }
        if auth_age > auth_timeout {
            return Step::Waiting("Failover attempt expired.");
        }
        if !self.auth_sent {
            state.current_epoch += 1;
            self.auth_epoch = state.current_epoch;
            self.auth_sent = true;
            return Step::RequestVotes {
                epoch: self.auth_epoch,
                force_ack: self.manual.is_some(),
            };
        }
        if self.auth_count >= quorum(state) {
            if state.myself().config_epoch < self.auth_epoch {
                state.myself_mut().config_epoch = self.auth_epoch;
            }
            self.last_waiting = None;
            return Step::Won;
        }
        Step::Waiting("Waiting for votes, but majority still not reached.")
    }

    /// Whether to log that this replica can't fail over, and why (Redis's
    /// `clusterLogCantFailover`): not the same reason again within 10 s, and nothing while the
    /// master failed less than the node timeout + 5 s ago (this is for replicas stalled for
    /// long).
    pub fn log_waiting(
        &mut self,
        why: &'static str,
        now_ms: u64,
        master_fail_ms: u64,
        node_timeout_ms: u64,
    ) -> bool {
        if matches!(self.last_waiting, Some((last, at)) if last == why && now_ms < at + WAITING_RELOG_MS)
        {
            return false;
        }
        self.last_waiting = Some((why, now_ms));
        now_ms.saturating_sub(master_fail_ms) >= node_timeout_ms + 5000
    }

    /// A FAILOVER_AUTH_ACK from `sender`, whose header carried `sender_epoch`: a vote, if it
    /// comes from a master serving slots and is for this election's epoch or later. Whether
    /// it counted.
    pub fn count_vote(&mut self, state: &ClusterState, sender: usize, sender_epoch: u64) -> bool {
        let node = &state.nodes[sender];
        let counts = self.auth_sent
            && node.is_master()
            && state.slot_count(sender) > 0
            && sender_epoch >= self.auth_epoch;
        if counts {
            self.auth_count += 1;
        }
        counts
    }

    /// A master's answer to a FAILOVER_AUTH_REQUEST (Redis's `clusterSendFailoverAuthIfNeeded`),
    /// the current epoch already raised to the request's. On a grant the vote is recorded: no
    /// other vote in this epoch, none about the same master for two node timeouts.
    pub fn vote(
        &mut self,
        state: &mut ClusterState,
        request: &VoteRequest<'_>,
        now_ms: u64,
        node_timeout_ms: u64,
    ) -> Result<(), Refusal> {
        if state.myself().is_replica() || state.slot_count(0) == 0 {
            return Err(Refusal::NoVote);
        }
        if request.current_epoch < state.current_epoch {
            return Err(Refusal::StaleEpoch {
                requested: request.current_epoch,
                current: state.current_epoch,
            });
        }
        if state.last_vote_epoch == state.current_epoch {
            return Err(Refusal::AlreadyVoted {
                epoch: state.current_epoch,
            });
        }
        let requester = &state.nodes[request.sender];
        if requester.is_master() {
            return Err(Refusal::IsMaster);
        }
        let Some(master) = state.master_of(request.sender) else {
            return Err(Refusal::UnknownMaster);
        };
        if !state.nodes[master].is_failed() && !request.force_ack {
            return Err(Refusal::MasterUp);
        }
        let master_id = state.nodes[master].id.clone();
        let voted = self.voted_about.get(&master_id).copied().unwrap_or(0);
        let elapsed = now_ms.saturating_sub(voted);
        if elapsed < node_timeout_ms * 2 {
            return Err(Refusal::TooSoon {
                wait_ms: node_timeout_ms * 2 - elapsed,
            });
        }
        for slot in (0..super::state::SLOTS).filter(|&slot| (request.claims)(slot)) {
            let Some(owner) = state.owner_node(slot) else {
                continue;
            };
            if owner.config_epoch > request.config_epoch {
                return Err(Refusal::NewerSlot {
                    slot,
                    epoch: owner.config_epoch,
                    requested: request.config_epoch,
                });
            }
        }
        state.last_vote_epoch = state.current_epoch;
        self.voted_about.insert(master_id, now_ms);
        Ok(())
    }

    /// Forgets the election and any manual failover (a new master, a new role). Whether a
    /// manual failover was under way on the master's side: its paused writes are to resume.
    pub fn reset(&mut self) -> bool {
        self.auth_time = 0;
        self.auth_count = 0;
        self.auth_sent = false;
        self.last_waiting = None;
        self.manual
            .take()
            .is_some_and(|manual| manual.replica.is_some())
    }

    /// Replica side of CLUSTER FAILOVER: a manual failover starts, ready at once with FORCE
    /// (no agreement of the master), else once the master announced its paused offset.
    pub fn start_manual(&mut self, now_ms: u64, force: bool) {
        self.reset();
        self.manual = Some(ManualFailover {
            end_ms: now_ms + MANUAL_FAILOVER_TIMEOUT_MS,
            can_start: force,
            ..ManualFailover::default()
        });
    }

    /// Master side of an MFSTART from `replica`: the master pauses its writes (the caller) and
    /// says so in its next PING.
    pub fn manual_requested(&mut self, now_ms: u64, replica: String) {
        self.reset();
        self.manual = Some(ManualFailover {
            end_ms: now_ms + MANUAL_FAILOVER_TIMEOUT_MS,
            replica: Some(replica),
            ..ManualFailover::default()
        });
    }

    /// Whether this master is paused for a manual failover (the PAUSED flag of its headers).
    pub fn master_paused(&self, state: &ClusterState) -> bool {
        state.myself().is_master() && self.manual.is_some()
    }

    /// Replica side: a message from this node's master with the PAUSED flag, carrying its
    /// offset. Whether it is the first (logged by the caller).
    pub fn master_paused_at(&mut self, offset: u64) -> bool {
        match &mut self.manual {
            Some(manual) if manual.master_offset.is_none() => {
                manual.master_offset = Some(offset);
                true
            }
            _ => false,
        }
    }

    /// Replica side (Redis's `clusterHandleManualFailover`): once this replica processed the
    /// master's paused offset, the election may start. Whether it just became possible.
    pub fn manual_step(&mut self, offset: u64) -> bool {
        match &mut self.manual {
            Some(manual) if !manual.can_start && manual.master_offset == Some(offset) => {
                manual.can_start = true;
                true
            }
            _ => false,
        }
    }

    /// Gives up a manual failover past its end, and returns it (the caller logs it, and a
    /// master resumes its writes).
    pub fn manual_timed_out(&mut self, now_ms: u64) -> Option<ManualFailover> {
        if self.manual.as_ref().is_some_and(|m| m.end_ms < now_ms) {
            return self.manual.take();
        }
        None
    }

    /// Replica migration (Redis's `clusterHandleSlaveMigration`): the master this replica
    /// should move to, if there is an orphaned master (serving slots, no working replica, but
    /// it had some), this replica's master keeps more than `barrier` working replicas, this
    /// replica has the smallest ID among the replicas of the masters with the most working
    /// replicas, and the master has been orphaned for a while. The caller checked that the
    /// cluster is ok and `cluster-allow-replica-migration`.
    pub fn migration_target(
        &mut self,
        state: &ClusterState,
        barrier: usize,
        now_ms: u64,
    ) -> Option<usize> {
        let mine = state.master_of(0)?;
        if !state.myself().is_replica() {
            return None;
        }
        // Replicas not FAIL count as working; for the barrier, not even PFAIL.
        let working = |master: usize, excluded: u16| -> usize {
            state
                .replicas_of(master)
                .into_iter()
                .filter(|&r| state.nodes[r].flags & excluded == 0)
                .count()
        };
        let mut orphaned = false;
        let mut best = 0;
        for i in 0..state.nodes.len() {
            let n = &state.nodes[i];
            if n.is_master() && !n.is_failed() {
                let ok = working(i, FAIL);
                best = best.max(ok);
                orphaned |= ok == 0 && state.slot_count(i) > 0 && n.flags & MIGRATE_TO != 0;
            }
        }
        // Without a master with two working replicas, moving one would orphan another.
        if !orphaned
            || best < 2
            || working(mine, FAIL) != best
            || working(mine, FAIL | PFAIL) <= barrier
        {
            return None;
        }
        let mut target = None;
        let mut candidate = state.myself().id.as_str();
        for i in 0..state.nodes.len() {
            let n = &state.nodes[i];
            let ok = if n.is_master() { working(i, FAIL) } else { 0 };
            let is_orphaned =
                n.is_master() && !n.is_failed() && n.flags & MIGRATE_TO != 0 && ok == 0;
            if is_orphaned {
                if target.is_none() && state.slot_count(i) > 0 {
                    target = Some(i);
                }
                self.orphaned_since.entry(n.id.clone()).or_insert(now_ms);
            } else {
                self.orphaned_since.remove(&n.id);
            }
            if n.is_master() && ok == best {
                for r in state.replicas_of(i) {
                    if state.nodes[r].id.as_str() < candidate {
                        candidate = &state.nodes[r].id;
                    }
                }
            }
        }
        let target = target?;
        let since = self.orphaned_since[&state.nodes[target].id];
        (candidate == state.myself().id && now_ms.saturating_sub(since) > MIGRATION_DELAY_MS)
            .then_some(target)
    }
}

/// Makes this node a replica of `master` (CLUSTER REPLICATE, a replica migrating, a master that
/// lost its slots): the flags and master ID, and a former master's open slots closed. The
/// caller points replication at the master.
pub fn set_master(state: &mut ClusterState, master: usize) {
    let myself = state.myself_mut();
    if myself.is_master() {
        myself.flags = (myself.flags & !(MASTER | MIGRATE_TO)) | REPLICA;
        state.close_open_slots();
    }
    state.myself_mut().master = Some(state.nodes[master].id.clone());
    state.nodes[master].flags |= MIGRATE_TO;
}

/// A replica takes its master's place (Redis's `clusterFailoverReplaceYourMaster`): it becomes
/// a master and serves every slot the old master served. The caller stops replicating, saves,
/// and broadcasts a PONG. False when this node is not a replica of a known master.
pub fn take_over(state: &mut ClusterState) -> bool {
    let Some(old_master) = state.master_of(0).filter(|_| state.myself().is_replica()) else {
        return false;
    };
    let myself = state.myself_mut();
    myself.flags = (myself.flags & !REPLICA) | MASTER;
    myself.master = None;
    for slot in 0..super::state::SLOTS {
        if state.owner(slot) == Some(old_master) {
            state.unassign(slot);
            state.assign(slot, 0);
        }
    }
    true
}

/// Where replication must be pointed for this node to follow its master as the state names
/// it: None when it already does, or is no replica, or the master's address is unknown.
pub fn master_to_follow(server: &Server, state: &ClusterState) -> Option<(String, u16)> {
    let master = state
        .master_of(0)
        .filter(|_| state.myself().is_replica())
        .map(|m| &state.nodes[m])?;
    if master.ip.is_empty() || master.port == 0 {
        return None;
    }
    let address = (master.ip.clone(), master.port);
    (server.replication.replica.master() != Some(address.clone())).then_some(address)
}

/// Points replication at this node's master (CLUSTER REPLICATE; the bus's cron for a replica
/// migrating, following a new owner of its slots, or started from nodes.conf). The caller
/// holds every gate (an exclusive command, or [`with_every_gate`]).
pub fn replicate_master(server: &Arc<Server>, state: &ClusterState) {
    if let Some((ip, port)) = master_to_follow(server, state) {
        crate::replication::replica::follow(server, ip, port);
    }
}

/// This node becomes a replica of `master` ([`set_master`]), forgetting any election; a master
/// paused for a manual failover resumes its writes. Replication follows on the bus's cron.
pub fn become_replica_of(
    server: &Server,
    node: &ClusterNode,
    state: &mut ClusterState,
    master: usize,
) {
    set_master(state, master);
    if node.election.lock().reset() {
        server.pause.unpause(server, Purpose::Failover);
    }
}

/// Promotes this replica in its master's place ([`take_over`]), stops replicating, and saves
/// nodes.conf; the caller then broadcasts a PONG so the cluster learns of it. The caller holds
/// every gate. Whether it happened.
pub fn replace_master(server: &Arc<Server>, node: &ClusterNode) -> bool {
    if !take_over(&mut node.write()) {
        return false;
    }
    crate::replication::replica::unset_master(server);
    node.election.lock().reset();
    node.save_after_change();
    super::slots_changed(server);
    true
}

/// Runs `f` holding every gate, as an exclusive command does: no command (the master link's
/// included) is halfway through while replication changes its master. For the bus and the
/// cron, which hold no gate; in the order commands take them, so nothing deadlocks.
pub fn with_every_gate<R>(server: &Server, f: impl FnOnce() -> R) -> R {
    let _held: Vec<_> = server.gates.iter().map(|gate| gate.write()).collect();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::Node;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 40).collect()
    }

    /// Three masters b, c, d with 100 slots each (epochs 1-3); this node `a` is a replica of b,
    /// and e another replica of b.
    fn cluster() -> ClusterState {
        let mut state = ClusterState::new(id('a'));
        for (n, c) in ['b', 'c', 'd'].into_iter().enumerate() {
            let mut master = Node::new(id(c), MASTER);
            master.config_epoch = n as u64 + 1;
            let i = state.add_node(master);
            for slot in n * 100..(n + 1) * 100 {
                state.assign(slot, i);
            }
        }
        state.current_epoch = 3;
        set_master(&mut state, 1);
        let mut other = Node::new(id('e'), REPLICA);
        other.master = Some(id('b'));
        state.add_node(other);
        state
    }

    fn view(now_ms: u64) -> ReplicaView {
        ReplicaView {
            now_ms,
            node_timeout_ms: 2000,
            validity_factor: 10,
            no_failover: false,
            ping_period_ms: 10_000,
            data_age_ms: 3000,
            offset: 100,
            jitter_ms: 123,
        }
    }

    #[test]
    fn set_master_makes_a_replica_and_marks_the_master() {
        let state = cluster();
        assert!(state.myself().is_replica() && !state.myself().is_master());
        assert_eq!(state.master_of(0), Some(1));
        assert_ne!(state.nodes[1].flags & MIGRATE_TO, 0);
        assert!(state
            .describe(0, false)
            .contains(&format!("myself,slave {}", id('b'))));
    }

    #[test]
    fn rank_counts_better_replicas_that_may_fail_over() {
        let mut state = cluster();
        assert_eq!(replica_rank(&state, 100), 0);
        state.nodes[4].live.repl_offset = 150;
        assert_eq!(replica_rank(&state, 100), 1);
        assert_eq!(replica_rank(&state, 150), 0);
        state.nodes[4].flags |= NOFAILOVER;
        assert_eq!(replica_rank(&state, 100), 0);
    }

    #[test]
    fn delay_is_half_a_second_plus_jitter_plus_a_second_per_rank() {
        assert_eq!(election_delay(0, 0), 500);
        assert_eq!(election_delay(0, 499), 999);
        assert_eq!(election_delay(2, 100), 2600);
    }

    #[test]
    fn no_election_while_the_master_is_up_or_with_no_failover() {
        let mut state = cluster();
        let mut election = Election::default();
        assert_eq!(
            election.replica_step(&mut state, &view(1_000_000)),
            Step::Idle
        );
        state.nodes[1].flags |= FAIL;
        let no_failover = ReplicaView {
            no_failover: true,
            ..view(1_000_000)
        };
        assert_eq!(election.replica_step(&mut state, &no_failover), Step::Idle);
    }

    #[test]
    fn an_election_is_scheduled_started_and_won_with_a_majority() {
        let mut state = cluster();
        state.nodes[1].flags |= FAIL;
        state.nodes[4].live.repl_offset = 150;
        let mut election = Election::default();
        let t = 1_000_000;
        assert_eq!(
            election.replica_step(&mut state, &view(t)),
            Step::Scheduled {
                delay_ms: 1623,
                rank: 1
            }
        );
        assert!(matches!(
            election.replica_step(&mut state, &view(t + 100)),
            Step::Waiting(_)
        ));
        assert_eq!(
            election.replica_step(&mut state, &view(t + 1623)),
            Step::RequestVotes {
                epoch: 4,
                force_ack: false
            }
        );
        assert_eq!(state.current_epoch, 4);
        // A replica's ack and an old epoch's do not count; two masters of three are a quorum.
        assert!(!election.count_vote(&state, 4, 4));
        assert!(!election.count_vote(&state, 2, 3));
        assert!(election.count_vote(&state, 2, 4));
        assert!(matches!(
            election.replica_step(&mut state, &view(t + 1700)),
            Step::Waiting(_)
        ));
        assert!(election.count_vote(&state, 3, 4));
        assert_eq!(
            election.replica_step(&mut state, &view(t + 1800)),
            Step::Won
        );
        assert_eq!(state.myself().config_epoch, 4);
        assert!(take_over(&mut state));
        assert!(state.myself().is_master());
        assert_eq!(state.slot_count(0), 100);
        assert_eq!(state.slot_count(1), 0);
    }

    #[test]
    fn a_stalled_replica_logs_why_once_in_a_while_and_not_just_after_the_failure() {
        let mut election = Election::default();
        let why = "Failover attempt expired.";
        let failed_at = 1_000_000;
        assert!(!election.log_waiting(why, failed_at + 6999, failed_at, 2000));
        assert!(!election.log_waiting(why, failed_at + 10_000, failed_at, 2000));
        assert!(election.log_waiting("other", failed_at + 10_001, failed_at, 2000));
        assert!(election.log_waiting(why, failed_at + 10_002, failed_at, 2000));
        assert!(!election.log_waiting(why, failed_at + 20_001, failed_at, 2000));
        assert!(election.log_waiting(why, failed_at + 20_002, failed_at, 2000));
    }

    #[test]
    fn an_election_expires_and_is_retried_later() {
        let mut state = cluster();
        state.nodes[1].flags |= FAIL;
        let mut election = Election::default();
        let t = 1_000_000;
        election.replica_step(&mut state, &view(t));
        assert!(matches!(
            election.replica_step(&mut state, &view(t + 1000)),
            Step::RequestVotes { epoch: 4, .. }
        ));
        // Timeout: max(2 * node timeout, 2 s) = 4 s; retry after twice that.
        assert_eq!(
            election.replica_step(&mut state, &view(t + 5700)),
            Step::Waiting("Failover attempt expired.")
        );
        assert!(matches!(
            election.replica_step(&mut state, &view(t + 9700)),
            Step::Scheduled { .. }
        ));
    }

    #[test]
    fn stale_data_prevents_an_automatic_failover() {
        let mut state = cluster();
        state.nodes[1].flags |= FAIL;
        let mut election = Election::default();
        // 10 s of ping period + 2 s * 10, past the node timeout.
        let stale = ReplicaView {
            data_age_ms: 2000 + 30_001,
            ..view(1_000_000)
        };
        assert!(matches!(
            election.replica_step(&mut state, &stale),
            Step::Waiting(why) if why.contains("validity-factor")
        ));
        let fresh = ReplicaView {
            data_age_ms: 2000 + 30_000,
            ..view(1_000_000)
        };
        assert!(matches!(
            election.replica_step(&mut state, &fresh),
            Step::Scheduled { .. }
        ));
        let unchecked = ReplicaView {
            validity_factor: 0,
            data_age_ms: u64::MAX / 2,
            ..view(1_000_000)
        };
        assert!(matches!(
            Election::default().replica_step(&mut state, &unchecked),
            Step::Scheduled { .. }
        ));
    }

    #[test]
    fn a_manual_failover_waits_for_the_masters_offset_then_goes_at_once() {
        let mut state = cluster();
        let mut election = Election::default();
        let t = 1_000_000;
        election.start_manual(t, false);
        assert_eq!(election.replica_step(&mut state, &view(t)), Step::Idle);
        assert!(election.master_paused_at(120));
        assert!(!election.master_paused_at(130), "the first offset counts");
        assert!(!election.manual_step(100));
        assert!(election.manual_step(120));
        assert_eq!(
            election.replica_step(&mut state, &view(t + 10)),
            Step::Scheduled {
                delay_ms: 0,
                rank: 0
            }
        );
        assert_eq!(
            election.replica_step(&mut state, &view(t + 20)),
            Step::RequestVotes {
                epoch: 4,
                force_ack: true
            }
        );
        assert_eq!(election.manual_timed_out(t + 5000), None);
        assert!(election.manual_timed_out(t + 5001).is_some());
        assert_eq!(election.manual, None);
    }

    fn all_slots(_: usize) -> bool {
        true
    }

    fn request(sender: usize, current_epoch: u64, config_epoch: u64) -> VoteRequest<'static> {
        VoteRequest {
            sender,
            current_epoch,
            config_epoch,
            claims: &|slot| slot < 100,
            force_ack: false,
        }
    }

    /// The state as master c sees it: b failed, a (a replica of b) asks for votes.
    fn voter() -> ClusterState {
        let mut state = ClusterState::new(id('c'));
        let b = state.add_node(Node::new(id('b'), MASTER | FAIL));
        let mut a = Node::new(id('a'), REPLICA);
        a.master = Some(id('b'));
        state.add_node(a);
        state.nodes[b].config_epoch = 1;
        state.myself_mut().config_epoch = 2;
        for slot in 0..100 {
            state.assign(slot, b);
        }
        for slot in 100..200 {
            state.assign(slot, 0);
        }
        state.current_epoch = 4;
        state
    }

    #[test]
    fn a_master_votes_once_per_epoch_and_once_per_master_in_two_timeouts() {
        let mut state = voter();
        let mut election = Election::default();
        let t = 1_000_000;
        assert_eq!(
            election.vote(&mut state, &request(2, 4, 1), t, 2000),
            Ok(())
        );
        assert_eq!(state.last_vote_epoch, 4);
        assert_eq!(
            election.vote(&mut state, &request(2, 4, 1), t, 2000),
            Err(Refusal::AlreadyVoted { epoch: 4 })
        );
        state.current_epoch = 5;
        assert_eq!(
            election.vote(&mut state, &request(2, 5, 1), t + 1000, 2000),
            Err(Refusal::TooSoon { wait_ms: 3000 })
        );
        assert_eq!(
            election.vote(&mut state, &request(2, 5, 1), t + 4000, 2000),
            Ok(())
        );
    }

    #[test]
    fn a_master_refuses_stale_epochs_masters_up_and_newer_slots() {
        let mut state = voter();
        let mut election = Election::default();
        let t = 1_000_000;
        assert_eq!(
            election.vote(&mut state, &request(2, 3, 1), t, 2000),
            Err(Refusal::StaleEpoch {
                requested: 3,
                current: 4
            })
        );
        assert_eq!(
            election.vote(&mut state, &request(1, 4, 1), t, 2000),
            Err(Refusal::IsMaster)
        );
        state.nodes[1].flags &= !FAIL;
        assert_eq!(
            election.vote(&mut state, &request(2, 4, 1), t, 2000),
            Err(Refusal::MasterUp)
        );
        let forced = VoteRequest {
            force_ack: true,
            claims: &all_slots,
            ..request(2, 4, 1)
        };
        // Claiming slots 100-199, which this master serves under epoch 2.
        assert_eq!(
            election.vote(&mut state, &forced, t, 2000),
            Err(Refusal::NewerSlot {
                slot: 100,
                epoch: 2,
                requested: 1
            })
        );
        let forced = VoteRequest {
            force_ack: true,
            ..request(2, 4, 1)
        };
        assert_eq!(election.vote(&mut state, &forced, t, 2000), Ok(()));
        assert_eq!(
            Refusal::MasterUp.describe(&id('a')).unwrap(),
            format!("Failover auth denied to {}: its master is up", id('a'))
        );
    }

    #[test]
    fn a_replica_or_a_master_without_slots_has_no_vote() {
        let mut state = voter();
        for slot in 100..200 {
            state.unassign(slot);
        }
        let mut election = Election::default();
        assert_eq!(
            election.vote(&mut state, &request(2, 4, 1), 0, 2000),
            Err(Refusal::NoVote)
        );
        assert_eq!(Refusal::NoVote.describe("x"), None);
    }

    #[test]
    fn a_replica_migrates_to_an_orphaned_master_after_a_delay() {
        // b has replicas a and e; c, which had replicas, has none left; d has one.
        let mut state = cluster();
        state.nodes[2].flags |= MIGRATE_TO;
        let mut f = Node::new(id('f'), REPLICA);
        f.master = Some(id('d'));
        state.add_node(f);
        let mut election = Election::default();
        let t = 1_000_000;
        assert_eq!(election.migration_target(&state, 1, t), None);
        assert_eq!(election.migration_target(&state, 1, t + 5001), Some(2));
        // The barrier keeps b's replicas home; the replica with the smallest ID goes.
        assert_eq!(election.migration_target(&state, 2, t + 5001), None);
        state.myself_mut().id = id('z');
        assert_eq!(election.migration_target(&state, 1, t + 5001), None);
    }
}
