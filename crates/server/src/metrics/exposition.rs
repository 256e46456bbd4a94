//! What a scrape shows: INFO's text turned into metrics under `oliver006/redis_exporter`'s names
//! and labels (so the dashboards people already use for Redis work unchanged), plus redis-lite's
//! own, encoded by `prometheus-client` in the Prometheus text format.
//!
//! Metrics come from the INFO text the server already writes, read the way redis_exporter reads
//! it, rather than from the counters directly: a field INFO gains reaches `/metrics` by a line in
//! the tables below, and the two can never disagree.

use std::collections::HashMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::server::Server;

/// How a family is typed in the exposition.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Gauge,
    /// Named without `_total`: the encoder appends it.
    Counter,
    /// Cumulative buckets (upper bound, count) with a sum, in seconds.
    Histogram,
}

/// INFO fields exported as they are, renamed as redis_exporter renames them; a value of `ok` or
/// `true` reads 1, `err`, `fail` or `false` 0. Fields redis-lite does not print yet are listed
/// too, so they flow through once INFO has them.
const GAUGES: &[(&str, &str)] = &[
    // Server
    ("uptime_in_seconds", "uptime_in_seconds"),
    ("process_id", "process_id"),
    ("io_threads_active", "io_threads_active"),
    ("hz", "hz"),
    ("configured_hz", "configured_hz"),
    // Clients
    ("connected_clients", "connected_clients"),
    ("blocked_clients", "blocked_clients"),
    ("tracking_clients", "tracking_clients"),
    ("clients_in_timeout_table", "clients_in_timeout_table"),
    (
        "client_recent_max_output_buffer",
        "client_recent_max_output_buffer_bytes",
    ),
    (
        "client_recent_max_input_buffer",
        "client_recent_max_input_buffer_bytes",
    ),
    // Memory
    ("allocator_active", "allocator_active_bytes"),
    ("allocator_allocated", "allocator_allocated_bytes"),
    ("allocator_resident", "allocator_resident_bytes"),
    ("allocator_frag_ratio", "allocator_frag_ratio"),
    ("allocator_frag_bytes", "allocator_frag_bytes"),
    ("allocator_rss_ratio", "allocator_rss_ratio"),
    ("allocator_rss_bytes", "allocator_rss_bytes"),
    ("used_memory", "memory_used_bytes"),
    ("used_memory_rss", "memory_used_rss_bytes"),
    ("used_memory_peak", "memory_used_peak_bytes"),
    ("used_memory_lua", "memory_used_lua_bytes"),
    ("used_memory_overhead", "memory_used_overhead_bytes"),
    ("used_memory_startup", "memory_used_startup_bytes"),
    ("used_memory_dataset", "memory_used_dataset_bytes"),
    ("used_memory_scripts", "memory_used_scripts_bytes"),
    ("maxmemory", "memory_max_bytes"),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio"),
    ("mem_fragmentation_bytes", "mem_fragmentation_bytes"),
    ("mem_clients_slaves", "mem_clients_slaves"),
    ("mem_clients_normal", "mem_clients_normal"),
    (
        "mem_not_counted_for_evict",
        "mem_not_counted_for_eviction_bytes",
    ),
    ("lazyfree_pending_objects", "lazyfree_pending_objects"),
    ("active_defrag_running", "active_defrag_running"),
    // Stats
    ("expired_stale_perc", "expired_stale_percentage"),
    (
        "expired_time_cap_reached_count",
        "expired_time_cap_reached_total",
    ),
    ("migrate_cached_sockets", "migrate_cached_sockets_total"),
    ("pubsub_channels", "pubsub_channels"),
    ("pubsub_patterns", "pubsub_patterns"),
    // Persistence
    ("loading", "loading_dump_file"),
    ("rdb_changes_since_last_save", "rdb_changes_since_last_save"),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress"),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds"),
    ("rdb_last_bgsave_status", "rdb_last_bgsave_status"),
    ("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec"),
    (
        "rdb_current_bgsave_time_sec",
        "rdb_current_bgsave_duration_sec",
    ),
    ("rdb_last_cow_size", "rdb_last_cow_size_bytes"),
    ("aof_enabled", "aof_enabled"),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress"),
    ("aof_rewrite_scheduled", "aof_rewrite_scheduled"),
    ("aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec"),
    (
        "aof_current_rewrite_time_sec",
        "aof_current_rewrite_duration_sec",
    ),
    ("aof_last_cow_size", "aof_last_cow_size_bytes"),
    ("aof_current_size", "aof_current_size_bytes"),
    ("aof_base_size", "aof_base_size_bytes"),
    ("aof_pending_rewrite", "aof_pending_rewrite"),
    ("aof_buffer_length", "aof_buffer_length"),
    ("aof_rewrite_buffer_length", "aof_rewrite_buffer_length"),
    ("aof_pending_bio_fsync", "aof_pending_bio_fsync"),
    ("aof_delayed_fsync", "aof_delayed_fsync"),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_status"),
    ("aof_last_write_status", "aof_last_write_status"),
    ("module_fork_in_progress", "module_fork_in_progress"),
    ("module_fork_last_cow_size", "module_fork_last_cow_size"),
    // Replication
    ("connected_slaves", "connected_slaves"),
    ("repl_backlog_size", "replication_backlog_bytes"),
    ("repl_backlog_active", "repl_backlog_is_active"),
    (
        "repl_backlog_first_byte_offset",
        "repl_backlog_first_byte_offset",
    ),
    ("repl_backlog_histlen", "repl_backlog_history_bytes"),
    ("master_repl_offset", "master_repl_offset"),
    ("second_repl_offset", "second_repl_offset"),
    ("slave_expires_tracked_keys", "slave_expires_tracked_keys"),
    ("slave_priority", "slave_priority"),
    ("sync_full", "replica_resyncs_full"),
    ("sync_partial_ok", "replica_partial_resync_accepted"),
    ("sync_partial_err", "replica_partial_resync_denied"),
];

/// INFO's running totals, as counters (names without the `_total` the encoder appends).
const COUNTERS: &[(&str, &str)] = &[
    ("total_connections_received", "connections_received"),
    ("total_commands_processed", "commands_processed"),
    ("rejected_connections", "rejected_connections"),
    ("total_net_input_bytes", "net_input_bytes"),
    ("total_net_output_bytes", "net_output_bytes"),
    ("expired_keys", "expired_keys"),
    ("evicted_keys", "evicted_keys"),
    ("keyspace_hits", "keyspace_hits"),
    ("keyspace_misses", "keyspace_misses"),
    ("used_cpu_sys", "cpu_sys_seconds"),
    ("used_cpu_user", "cpu_user_seconds"),
    ("used_cpu_sys_children", "cpu_sys_children_seconds"),
    ("used_cpu_user_children", "cpu_user_children_seconds"),
];

type Labels = Vec<(&'static str, String)>;

/// One metric family of a scrape and its samples.
#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    samples: Vec<(Labels, Sample)>,
}

#[derive(Debug)]
enum Sample {
    Value(f64),
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

/// Everything one scrape shows, built from the server's state at that moment; it is the
/// registry's one collector, so prometheus-client does the formatting and escaping.
#[derive(Debug, Default)]
pub struct Scrape {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
}

impl Scrape {
    /// Reads INFO and redis-lite's own figures.
    pub fn take(server: &Server) -> Scrape {
        let mut scrape = Scrape::default();
        scrape.gauge("redis_up", "Whether the server answered", vec![], 1.0);
        scrape.add_info(
            &crate::admin::info::everything(server),
            &server_databases(server),
        );
        scrape.add_config(server);
        super::own::add(server, &mut scrape);
        scrape
    }

    /// The text exposition (format 0.0.4).
    pub fn encode(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }

    fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Family {
        let index = *self.by_name.entry(name.to_string()).or_insert_with(|| {
            self.families.push(Family {
                name: name.to_string(),
                help: help.to_string(),
                kind,
                samples: Vec::new(),
            });
            self.families.len() - 1
        });
        &mut self.families[index]
    }

    pub(super) fn gauge(&mut self, name: &str, help: &str, labels: Labels, value: f64) {
        let family = self.family(name, help, Kind::Gauge);
        family.samples.push((labels, Sample::Value(value)));
    }

    /// `name` without `_total`.
    pub(super) fn counter(&mut self, name: &str, help: &str, labels: Labels, value: f64) {
        let family = self.family(name, help, Kind::Counter);
        family.samples.push((labels, Sample::Value(value)));
    }

    /// `buckets` cumulative, by upper bound in seconds, without `+Inf` (the encoder adds it).
    pub(super) fn histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: Labels,
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    ) {
        let family = self.family(name, help, Kind::Histogram);
        family.samples.push((
            labels,
            Sample::Histogram {
                sum,
                count,
                buckets,
            },
        ));
    }

    /// INFO's sections, read as redis_exporter reads them. `databases` lists every database, so
    /// an empty one reads 0 keys rather than vanishing from sums.
    fn add_info(&mut self, info: &str, databases: &[String]) {
        let mut fields: HashMap<&str, &str> = HashMap::new();
        let mut section = "";
        let mut seen_databases = Vec::new();
        for line in info.lines() {
            if let Some(name) = line.strip_prefix("# ") {
                section = name;
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            fields.insert(key, value);
            match section {
                "Commandstats" => self.add_command_stats(key, value),
                "Errorstats" => {
                    if let (Some(code), Some(count)) =
                        (key.strip_prefix("errorstat_"), sub_field(value, "count"))
                    {
                        let labels = vec![("err", code.to_string())];
                        self.counter("redis_errors", "Error replies by code", labels, count);
                    }
                }
                "Latencystats" => self.add_latency_percentiles(key, value),
                "Keyspace" => {
                    self.add_keyspace(key, value);
                    seen_databases.push(key.to_string());
                }
                "Replication" => self.add_replica_link(key, value),
                _ => self.add_field(key, value),
            }
        }
        for db in databases.iter().filter(|db| !seen_databases.contains(db)) {
            self.add_keyspace(db, "keys=0,expires=0,avg_ttl=0");
        }
        self.add_server_info(&fields);
    }

    /// A plain field, if the tables name it.
    fn add_field(&mut self, key: &str, value: &str) {
        let Some(value) = field_value(value) else {
            return;
        };
        if let Some((_, name)) = GAUGES.iter().find(|(field, _)| *field == key) {
            let help = format!("INFO field {key}");
            self.gauge(&format!("redis_{name}"), &help, vec![], value);
        } else if let Some((_, name)) = COUNTERS.iter().find(|(field, _)| *field == key) {
            let help = format!("INFO field {key}");
            self.counter(&format!("redis_{name}"), &help, vec![], value);
        } else if key == "latest_fork_usec" {
            let help = "Duration of the latest fork in seconds";
            self.gauge("redis_latest_fork_seconds", help, vec![], value / 1e6);
        }
    }

    /// `cmdstat_get:calls=21,usec=175,usec_per_call=8.33,rejected_calls=0,failed_calls=0`
    fn add_command_stats(&mut self, key: &str, value: &str) {
        let Some(cmd) = key.strip_prefix("cmdstat_") else {
            return;
        };
        let labels = || vec![("cmd", cmd.to_string())];
        if let (Some(calls), Some(usec)) = (sub_field(value, "calls"), sub_field(value, "usec")) {
            let help = "Total number of calls per command";
            self.counter("redis_commands", help, labels(), calls);
            let help = "Total amount of time in seconds spent per command";
            self.counter(
                "redis_commands_duration_seconds",
                help,
                labels(),
                usec / 1e6,
            );
        }
        if let Some(rejected) = sub_field(value, "rejected_calls") {
            let help = "Calls refused before the command ran, per command";
            self.counter("redis_commands_rejected_calls", help, labels(), rejected);
        }
        if let Some(failed) = sub_field(value, "failed_calls") {
            let help = "Calls that ran and failed, per command";
            self.counter("redis_commands_failed_calls", help, labels(), failed);
        }
    }

    /// `latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=11.007`: one gauge per
    /// percentile, labelled with its quantile. redis_exporter writes these as a summary whose
    /// count and sum repeat `redis_commands_total` and `redis_commands_duration_seconds_total`;
    /// prometheus-client has no summary type, so the quantiles come alone, under the same name
    /// and labels dashboards query.
    fn add_latency_percentiles(&mut self, key: &str, value: &str) {
        let Some(cmd) = key.strip_prefix("latency_percentiles_usec_") else {
            return;
        };
        for part in value.split(',') {
            let Some((percentile, usec)) = part.split_once('=') else {
                continue;
            };
            let parsed = percentile
                .strip_prefix('p')
                .and_then(|p| p.parse::<f64>().ok())
                .zip(usec.parse::<f64>().ok());
            if let Some((percentile, usec)) = parsed {
                let labels = vec![
                    ("cmd", cmd.to_string()),
                    ("quantile", format_quantile(percentile / 100.0)),
                ];
                let help = "Latency percentiles per command, in microseconds";
                self.gauge("redis_latency_percentiles_usec", help, labels, usec);
            }
        }
    }

    /// `db0:keys=1,expires=0,avg_ttl=0`
    fn add_keyspace(&mut self, db: &str, value: &str) {
        let labels = || vec![("db", db.to_string())];
        if let Some(keys) = sub_field(value, "keys") {
            self.gauge(
                "redis_db_keys",
                "Total number of keys by DB",
                labels(),
                keys,
            );
        }
        if let Some(expires) = sub_field(value, "expires") {
            let help = "Total number of expiring keys by DB";
            self.gauge("redis_db_keys_expiring", help, labels(), expires);
        }
        if let Some(avg_ttl) = sub_field(value, "avg_ttl") {
            let help = "Avg TTL in seconds";
            self.gauge("redis_db_avg_ttl_seconds", help, labels(), avg_ttl / 1e3);
        }
    }

    /// Replication's per-replica lines on a master, the link's state on a replica; anything
    /// else in the section is a plain field.
    fn add_replica_link(&mut self, key: &str, value: &str) {
        let is_replica_line =
            key.starts_with("slave") && key[5..].bytes().all(|b| b.is_ascii_digit());
        if is_replica_line && key.len() > 5 {
            let part = |name: &str| {
                value
                    .split(',')
                    .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or("")
                    .to_string()
            };
            let labels = || {
                vec![
                    ("slave_ip", part("ip")),
                    ("slave_port", part("port")),
                    ("slave_state", part("state")),
                ]
            };
            if let Some(offset) = sub_field(value, "offset") {
                let help = "Offset of connected slave";
                self.gauge("redis_connected_slave_offset_bytes", help, labels(), offset);
            }
            if let Some(lag) = sub_field(value, "lag") {
                let help = "Lag of connected slave";
                self.gauge("redis_connected_slave_lag_seconds", help, labels(), lag);
            }
            return;
        }
        self.add_field(key, value);
    }

    /// What redis_exporter derives from several fields at once: the instance's identity, its
    /// start time, and a replica's link.
    fn add_server_info(&mut self, fields: &HashMap<&str, &str>) {
        let get = |key: &str| fields.get(key).copied().unwrap_or("").to_string();
        let labels = vec![
            ("role", get("role")),
            ("redis_version", get("redis_version")),
            ("redis_build_id", get("redis_build_id")),
            ("redis_mode", get("redis_mode")),
            ("os", get("os")),
            ("maxmemory_policy", get("maxmemory_policy")),
            ("tcp_port", get("tcp_port")),
            ("run_id", get("run_id")),
            ("process_id", get("process_id")),
            ("master_replid", get("master_replid")),
        ];
        let help = "Information about the Redis instance";
        self.gauge("redis_instance_info", help, labels, 1.0);
        if let Some(uptime) = fields
            .get("uptime_in_seconds")
            .and_then(|v| v.parse::<f64>().ok())
        {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let help = "Start time of the Redis instance since unix epoch in seconds.";
            self.gauge(
                "redis_start_time_seconds",
                help,
                vec![],
                (now - uptime).floor(),
            );
        }
        if get("role") == "slave" {
            let link = || {
                vec![
                    ("master_host", get("master_host")),
                    ("master_port", get("master_port")),
                ]
            };
            let up = f64::from(u8::from(get("master_link_status") == "up"));
            self.gauge(
                "redis_master_link_up",
                "Master link status on Redis slave",
                link(),
                up,
            );
            for (field, name, help) in [
                (
                    "master_last_io_seconds_ago",
                    "redis_master_last_io_seconds_ago",
                    "Master last io seconds ago",
                ),
                (
                    "master_sync_in_progress",
                    "redis_master_sync_in_progress",
                    "Master sync in progress",
                ),
                (
                    "slave_repl_offset",
                    "redis_slave_repl_offset",
                    "Slave replication offset",
                ),
            ] {
                if let Some(value) = fields.get(field).and_then(|v| v.parse::<f64>().ok()) {
                    self.gauge(name, help, link(), value);
                }
            }
            let labels = vec![
                ("master_host", get("master_host")),
                ("master_port", get("master_port")),
                ("read_only", get("slave_read_only")),
            ];
            self.gauge(
                "redis_slave_info",
                "Information about the Redis slave",
                labels,
                1.0,
            );
        }
    }

    /// The two parameters redis_exporter reads with CONFIG GET.
    fn add_config(&mut self, server: &Server) {
        let (maxmemory, maxclients) = {
            let config = server.config.read();
            (config.maxmemory as f64, config.maxclients as f64)
        };
        let help = "config_maxmemory metric";
        self.gauge("redis_config_maxmemory", help, vec![], maxmemory);
        let help = "config_maxclients metric";
        self.gauge("redis_config_maxclients", help, vec![], maxclients);
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            let metric_type = match family.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric =
                encoder.encode_descriptor(&family.name, &family.help, None, metric_type)?;
            for (labels, sample) in &family.samples {
                if labels.is_empty() {
                    encode_sample(family.kind, sample, &mut metric)?;
                } else {
                    let mut labelled = metric.encode_family(labels)?;
                    encode_sample(family.kind, sample, &mut labelled)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_sample(kind: Kind, sample: &Sample, metric: &mut MetricEncoder) -> std::fmt::Result {
    match (kind, sample) {
        (Kind::Counter, Sample::Value(v)) => match whole(*v) {
            Some(n) if n >= 0 => metric.encode_counter::<NoLabelSet, _, f64>(&(n as u64), None),
            _ => metric.encode_counter::<NoLabelSet, _, f64>(v, None),
        },
        (_, Sample::Value(v)) => match whole(*v) {
            Some(n) => metric.encode_gauge(&n),
            None => metric.encode_gauge(v),
        },
        (
            _,
            Sample::Histogram {
                sum,
                count,
                buckets,
            },
        ) => metric.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None),
    }
}

/// `v` as an integer when it is one (most INFO fields are), so it reads `3`, not `3.0`.
fn whole(v: f64) -> Option<i64> {
    (v.fract() == 0.0 && v.abs() < (1u64 << 53) as f64).then_some(v as i64)
}

/// The databases INFO's keyspace would name, `db0` to `db<databases - 1>`.
fn server_databases(server: &Server) -> Vec<String> {
    (0..server.config.read().databases)
        .map(|db| format!("db{db}"))
        .collect()
}

/// A field's value as a number: numbers as written, `ok`/`true` 1 and `err`/`fail`/`false` 0,
/// as redis_exporter reads them; None for text.
fn field_value(value: &str) -> Option<f64> {
    match value {
        "ok" | "true" => Some(1.0),
        "err" | "fail" | "false" => Some(0.0),
        _ => value.parse().ok(),
    }
}

/// `name`'s value in `a=1,b=2`.
fn sub_field(value: &str, name: &str) -> Option<f64> {
    value
        .split(',')
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// A quantile label as Go's `strconv.FormatFloat(q, 'g', -1, 64)` writes it (0.5, 0.99, 0.999),
/// which is what redis_exporter's summaries carry.
fn format_quantile(q: f64) -> String {
    let rounded = (q * 1e9).round() / 1e9;
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape_of(info: &str) -> String {
        let mut scrape = Scrape::default();
        scrape.add_info(info, &["db0".to_string(), "db1".to_string()]);
        scrape.encode()
    }

    #[test]
    fn info_fields_become_redis_exporter_metrics() {
        let text = scrape_of(
            "# Stats\r\ntotal_commands_processed:7\r\nkeyspace_hits:3\r\nunlisted_field:9\r\n\
             # Memory\r\nused_memory:1024\r\n# Persistence\r\nrdb_last_bgsave_status:ok\r\n",
        );
        assert!(
            text.contains(
                "# TYPE redis_commands_processed_total counter\nredis_commands_processed_total 7"
            ),
            "{text}"
        );
        assert!(text.contains("redis_keyspace_hits_total 3"), "{text}");
        assert!(
            text.contains("# TYPE redis_memory_used_bytes gauge\nredis_memory_used_bytes 1024"),
            "{text}"
        );
        assert!(text.contains("redis_rdb_last_bgsave_status 1"), "{text}");
        assert!(!text.contains("unlisted"), "{text}");
    }

    #[test]
    fn labelled_sections() {
        let text = scrape_of(
            "# Commandstats\r\ncmdstat_config|get:calls=2,usec=500,usec_per_call=250.00,rejected_calls=1,failed_calls=0\r\n\
             # Errorstats\r\nerrorstat_WRONGTYPE:count=4\r\n\
             # Latencystats\r\nlatency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=11.007\r\n\
             # Keyspace\r\ndb1:keys=5,expires=2,avg_ttl=3000\r\n",
        );
        for expected in [
            "redis_commands_total{cmd=\"config|get\"} 2",
            "redis_commands_duration_seconds_total{cmd=\"config|get\"} 0.0005",
            "redis_commands_rejected_calls_total{cmd=\"config|get\"} 1",
            "redis_errors_total{err=\"WRONGTYPE\"} 4",
            "redis_latency_percentiles_usec{cmd=\"get\",quantile=\"0.5\"} 1.003",
            "redis_latency_percentiles_usec{cmd=\"get\",quantile=\"0.999\"} 11.007",
            "redis_db_keys{db=\"db1\"} 5",
            "redis_db_keys_expiring{db=\"db1\"} 2",
            "redis_db_avg_ttl_seconds{db=\"db1\"} 3",
            "redis_db_keys{db=\"db0\"} 0",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
    }

    #[test]
    fn a_master_lists_its_replicas() {
        let text = scrape_of(
            "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=1\r\n",
        );
        assert!(text.contains("redis_connected_slaves 1"), "{text}");
        assert!(text.contains(
            "redis_connected_slave_offset_bytes{slave_ip=\"127.0.0.1\",slave_port=\"6380\",slave_state=\"online\"} 42"
        ), "{text}");
        assert!(
            text.contains("redis_instance_info{role=\"master\""),
            "{text}"
        );
    }
}
