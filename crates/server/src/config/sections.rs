//! The parameters of subsystems redis-lite has only in part, or not yet (cluster, TLS, ACL),
//! kept in one section each so `Config` stays readable. Every one is parsed, checked and shown
//! as Redis 7.0 does; README's configuration table says which ones act and which are accepted
//! without effect, and why.

/// `supervised`: how the server tells a service manager it is ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Supervised {
    #[default]
    No,
    Upstart,
    Systemd,
    /// Systemd when `NOTIFY_SOCKET` is set, upstart when `UPSTART_JOB` is.
    Auto,
}

/// `oom-score-adj`: whether and how the server writes its `oom_score_adj`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OomScoreAdj {
    #[default]
    No,
    /// `yes` / `relative`: the values are added to the score the process started with.
    Relative,
    Absolute,
}

/// The process: daemonizing, supervision, its title, logging to syslog, crash reports, the
/// kernel's OOM killer, shutdown on signals, and the threads and CPU pinning Redis has.
#[derive(Clone, Debug, Default)]
pub struct ProcessConfig {
    pub daemonize: bool,
    pub pidfile: String,
    pub supervised: Supervised,
    pub always_show_logo: bool,
    pub set_proc_title: bool,
    pub proc_title_template: String,
    pub syslog_enabled: bool,
    pub syslog_ident: String,
    pub syslog_facility: &'static str,
    pub crash_log_enabled: bool,
    pub crash_memcheck_enabled: bool,
    pub use_exit_on_panic: bool,
    pub watchdog_period: i64,
    pub oom_score_adj: OomScoreAdj,
    /// For a master, a replica, and a background child, in that order.
    pub oom_score_adj_values: [i64; 3],
    pub disable_thp: bool,
    pub ignore_warnings: String,
    pub server_cpulist: String,
    pub bio_cpulist: String,
    pub aof_rewrite_cpulist: String,
    pub bgsave_cpulist: String,
    pub io_threads: i64,
    pub io_threads_do_reads: bool,
    pub jemalloc_bg_thread: bool,
    pub shutdown_on_sigint: String,
    pub shutdown_on_sigterm: String,
    pub shutdown_timeout: i64,
    pub propagation_error_behavior: &'static str,
    pub bind_source_addr: String,
    pub socket_mark_id: i64,
}

/// Keyspace and memory tuning Redis offers: rehashing, expiry effort, lazy freeing, list
/// compression, HyperLogLog encoding, defragmentation, client eviction, RESTORE checks.
#[derive(Clone, Debug, Default)]
pub struct TuningConfig {
    pub activerehashing: bool,
    pub loading_process_events_interval_bytes: i64,
    pub dynamic_hz: bool,
    pub active_expire_effort: i64,
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub hll_sparse_max_bytes: u64,
    pub tracking_table_max_keys: i64,
    pub sanitize_dump_payload: &'static str,
    /// Bytes, or a percentage of `maxmemory` stored negated (`10%` is -10), as Redis keeps it.
    pub maxmemory_clients: i64,
    pub activedefrag: bool,
    pub active_defrag_ignore_bytes: u64,
    pub active_defrag_threshold_lower: i64,
    pub active_defrag_threshold_upper: i64,
    pub active_defrag_cycle_min: i64,
    pub active_defrag_cycle_max: i64,
    pub active_defrag_max_scan_fields: i64,
    pub rdb_del_sync_files: bool,
    pub rdb_save_incremental_fsync: bool,
    pub aof_rewrite_incremental_fsync: bool,
    pub aof_disable_auto_gc: bool,
}

/// The slow log, the latency monitor and per-command latency tracking.
#[derive(Clone, Debug, Default)]
pub struct ObservabilityConfig {
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: i64,
    pub latency_monitor_threshold: i64,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// `metrics-port`: where `GET /metrics` is served on the `bind` addresses; 0 is off.
    pub metrics_port: u16,
}

/// Redis Cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterConfig {
    pub enabled: bool,
    pub config_file: String,
    pub node_timeout: i64,
    pub port: i64,
    pub announce_ip: String,
    pub announce_hostname: String,
    pub announce_port: i64,
    pub announce_bus_port: i64,
    pub announce_tls_port: i64,
    pub preferred_endpoint_type: &'static str,
    pub require_full_coverage: bool,
    pub replica_no_failover: bool,
    pub replica_validity_factor: i64,
    pub migration_barrier: i64,
    pub allow_replica_migration: bool,
    pub allow_reads_when_down: bool,
    pub allow_pubsubshard_when_down: bool,
    pub link_sendbuf_limit: u64,
}

/// TLS.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    pub port: i64,
    pub cert_file: String,
    pub key_file: String,
    pub key_file_pass: String,
    pub client_cert_file: String,
    pub client_key_file: String,
    pub client_key_file_pass: String,
    pub dh_params_file: String,
    pub ca_cert_file: String,
    pub ca_cert_dir: String,
    pub protocols: String,
    pub ciphers: String,
    pub ciphersuites: String,
    pub auth_clients: &'static str,
    pub replication: bool,
    pub cluster: bool,
    pub prefer_server_ciphers: bool,
    pub session_caching: bool,
    pub session_cache_size: i64,
    pub session_cache_timeout: i64,
}

/// Access control lists.
#[derive(Clone, Debug, Default)]
pub struct AclConfig {
    pub aclfile: String,
    /// The config file's `user` lines, each as its words (`user`, the name, the rules).
    pub users: Vec<Vec<String>>,
    pub acllog_max_len: i64,
    pub pubsub_default: &'static str,
}
