//! The memory clients hold, by class, and client eviction (`maxmemory-clients`), as Redis 7.0
//! does them: when normal and pub/sub clients together hold the limit or more, the clients
//! holding the most are disconnected, largest first, until they hold less; replicas, the
//! master link and `CLIENT NO-EVICT on` clients are never evicted, though they count.
//!
//! Each connection publishes its own figures (`ClientHandle::memory`) where it touches its
//! buffers and, while there is a limit, recounts its share of a running total of client
//! memory (`Clients::memory`), as does a publisher queuing messages for a subscriber. Before
//! every command (and after each batch) that total is compared with the limit, so clients are
//! evicted before any key is, as in Redis; only then is the client list walked. The cron
//! thread recounts everyone at `hz`.

use std::sync::atomic::Ordering::Relaxed;

use crate::client::{ClientHandle, ClientRole};
use crate::config::Config;
use crate::log;
use crate::server::Server;

/// The smallest limit applied, whatever `maxmemory-clients` says, so a bad setting cannot cut
/// every client off (Redis's floor too).
const MIN_LIMIT: u64 = 128 * 1024;

/// `maxmemory-clients` in bytes: absolute, or a percentage (stored negative) of `maxmemory`;
/// 0 when there is no limit (a percentage without `maxmemory` is none).
pub fn limit(config: &Config) -> u64 {
    let setting = config.tuning.maxmemory_clients;
    let bytes = if setting < 0 {
        (config.maxmemory as f64 * (-setting) as f64 / 100.0) as u64
    } else {
        setting as u64
    };
    if bytes == 0 {
        0
    } else {
        bytes.max(MIN_LIMIT)
    }
}

/// Whether eviction may disconnect this client.
fn evictable(handle: &ClientHandle) -> bool {
    let info = handle.info.lock();
    info.role == ClientRole::Normal && !info.no_evict && !handle.is_killed()
}

/// Disconnects `handle` for client eviction, unless it is exempt. Returns whether it is gone.
/// The cron thread and the event loops evict at the same time: a client two of them found
/// evictable is counted once, by the one whose kill came first, before its socket is shut
/// down (so INFO after the client saw the end counts it).
pub fn evict(server: &Server, handle: &ClientHandle) -> bool {
    if !evictable(handle) {
        return false;
    }
    let description = handle.describe(std::time::Instant::now());
    handle.kill_reporting(|| {
        log!(Verbose, "Evicting client: {}", description.trim_end());
        server.clients.evicted.fetch_add(1, Relaxed);
    });
    true
}

/// What clients hold: (normal and pub/sub clients, replicas), INFO's `mem_clients_normal` and
/// `mem_clients_slaves`.
pub fn usage(server: &Server) -> (u64, u64) {
    let mut normal = 0;
    let mut replicas = 0;
    for handle in server.clients.all() {
        let role = handle.info.lock().role;
        match role {
            ClientRole::Normal => normal += handle.total_memory(),
            ClientRole::Replica => replicas += handle.total_memory(),
            // The link to this server's master is not a client of it.
            ClientRole::Master => {}
        }
    }
    (normal, replicas)
}

/// Before every command, as Redis does before it evicts keys: when normal and pub/sub clients
/// together hold `maxmemory-clients` or more by the running total, evicts the largest. Returns
/// whether it evicted any. One load and a comparison while under the limit.
pub fn enforce(server: &Server) -> bool {
    let limit = server.limits.client_memory();
    limit > 0
        && server.clients.memory.bytes.load(Relaxed) as u64 >= limit
        && evict_over(server, limit)
}

/// Called by the cron thread: recounts every client, which corrects the running total for
/// output a connection has not recounted yet, and evicts as [`enforce`] does.
pub fn cron(server: &Server) {
    let limit = server.limits.client_memory();
    if limit > 0 {
        evict_over(server, limit);
    }
}

/// After `maxmemory-clients` changed: the running total is kept while there is a limit, and
/// recounted from every client's figures when it starts being kept again.
pub fn recount(server: &Server) {
    let counting = server.limits.client_memory() > 0;
    if server.clients.memory.counting.swap(counting, Relaxed) || !counting {
        return;
    }
    for handle in server.clients.all() {
        recount_one(&handle);
    }
}

/// Recounts `handle`; returns whether it counts toward `maxmemory-clients` (a normal or
/// pub/sub client not killed).
fn recount_one(handle: &ClientHandle) -> bool {
    // The link to this server's master is not a client of it, and replicas have their own
    // limit (client-output-buffer-limit replica).
    if handle.info.lock().role != ClientRole::Normal {
        handle.uncount_memory();
        return false;
    }
    handle.recount_memory();
    !handle.is_killed()
}

/// Recounts every client, then evicts the largest evictable ones while normal and pub/sub
/// clients together hold `limit` or more. Returns whether it evicted any.
fn evict_over(server: &Server, limit: u64) -> bool {
    let mut total = 0;
    let mut candidates = Vec::new();
    for handle in server.clients.all() {
        if !recount_one(&handle) {
            continue;
        }
        let memory = handle.total_memory();
        total += memory;
        candidates.push((memory, handle));
    }
    if total < limit {
        return false;
    }
    candidates.sort_unstable_by_key(|(memory, _)| std::cmp::Reverse(*memory));
    let mut evicted = false;
    for (memory, handle) in candidates {
        if total < limit {
            break;
        }
        if evict(server, &handle) {
            total -= memory;
            evicted = true;
        }
    }
    if total >= limit {
        log!(
            Warning,
            "Over client maxmemory after evicting all evictable clients"
        );
    }
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cron thread and an event loop may pick the same client at once: it is evicted, and
    /// counted in `evicted_clients`, once.
    #[test]
    fn a_client_two_threads_evict_at_once_is_counted_once() {
        let server = Server::new(Config::default(), None);
        for round in 0..100 {
            let handle = ClientHandle::new(round, "client".into(), "local".into(), -1);
            let start = std::sync::Barrier::new(4);
            let gone = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            evict(&server, &handle)
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .filter_map(|t| t.join().unwrap().then_some(()))
                    .count()
            });
            assert!(gone >= 1, "one thread at least evicted it");
            assert_eq!(server.clients.evicted.load(Relaxed), round + 1);
        }
    }

    fn limit_of(maxmemory: u64, maxmemory_clients: i64) -> u64 {
        let mut config = Config {
            maxmemory,
            ..Config::default()
        };
        config.tuning.maxmemory_clients = maxmemory_clients;
        limit(&config)
    }

    #[test]
    fn the_limit_is_bytes_or_a_share_of_maxmemory_with_a_floor() {
        assert_eq!(limit_of(0, 0), 0, "no limit by default");
        assert_eq!(limit_of(1 << 30, 0), 0);
        assert_eq!(limit_of(0, 1 << 20), 1 << 20);
        assert_eq!(limit_of(0, 1000), MIN_LIMIT, "too small a limit is raised");
        assert_eq!(limit_of(0, -10), 0, "a share of no maxmemory is no limit");
        assert_eq!(limit_of(100 << 20, -10), 10 << 20);
        assert_eq!(limit_of(100 << 20, -100), 100 << 20);
    }
}
