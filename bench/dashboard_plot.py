#!/usr/bin/env python3
"""Renders the Grafana dashboard's panels (deploy/grafana/redis-lite.json) from real data.

Starts redis-lite with `metrics-port`, runs a short load with redis-benchmark in phases (writes
past maxmemory so keys are evicted, writes that fit, reads that hit and miss, keys with a TTL,
a BGSAVE),
scrapes /metrics every second while it runs, parses each scrape with prometheus_client's text
parser, and plots the dashboard's panels, computed from the scrapes as its queries compute them,
into one PNG.

    pip install matplotlib prometheus-client
    python3 bench/dashboard_plot.py [--server target/release/redis-lite-server]
                                    [--out deploy/grafana/redis-lite-dashboard.png]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "redis-lite.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Scrapes:
    """Every scrape's samples: (name, sorted labels) -> [(t, value)]."""

    def __init__(self):
        self.series = defaultdict(list)
        self.times = []

    def take(self, url, t):
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        self.times.append(t)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                self.series[key].append((t, sample.value))

    def named(self, name, **labels):
        """The series of `name` whose labels include `labels`, by their full label sets."""
        found = {}
        for (n, lbls), points in self.series.items():
            d = dict(lbls)
            if n == name and all(d.get(k) == v for k, v in labels.items()):
                found[lbls] = points
        return found

    def one(self, name, **labels):
        found = self.named(name, **labels)
        return next(iter(found.values())) if found else []


def rate(points):
    """Per-second increase between successive scrapes (PromQL's rate over one interval)."""
    return [
        (t1, max(v1 - v0, 0) / (t1 - t0))
        for (t0, v0), (t1, v1) in zip(points, points[1:])
        if t1 > t0
    ]


def divide(a, b):
    bs = dict(b)
    return [(t, v / bs[t]) for t, v in a if bs.get(t)]


def histogram_p99(scrapes, name):
    """histogram_quantile(0.99, rate(name_bucket[interval])) over each scrape interval."""
    buckets = {}
    for lbls, points in scrapes.named(name + "_bucket").items():
        le = float(dict(lbls)["le"])
        buckets[le] = dict(points)
    bounds = sorted(buckets)
    out = []
    times = scrapes.times
    for t0, t1 in zip(times, times[1:]):
        counts = [buckets[b].get(t1, 0) - buckets[b].get(t0, 0) for b in bounds]
        total = counts[-1] if counts else 0
        if total <= 0:
            continue
        rank = 0.99 * total
        for b, c in zip(bounds, counts):
            if c >= rank:
                out.append((t1, b if b != float("inf") else bounds[-2]))
                break
    return out


def load(port, phases, log):
    """Runs each phase's redis-benchmark for its duration, one after another."""
    for seconds, label, args in phases:
        log.append((time.time(), label))
        command = ["redis-benchmark", "-p", str(port), "-q", "-n", "100000000"] + args
        bench = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        bench.terminate()
        bench.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_server = os.path.join(ROOT, "target", "release", "redis-lite-server")
    parser.add_argument("--server", default=default_server)
    parser.add_argument("--out", default=os.path.join(ROOT, "deploy", "grafana", "redis-lite-dashboard.png"))
    parser.add_argument("--phase-seconds", type=float, default=12)
    args = parser.parse_args()
    titles = {p["title"] for p in json.load(open(DASHBOARD))["panels"]}

    port, metrics_port = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="dashboard-plot-")
    server = subprocess.Popen(
        [args.server, "--port", str(port), "--metrics-port", str(metrics_port), "--dir", data,
         "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
         "--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru", "--logfile", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        wait_for_port(metrics_port)
        s = args.phase_seconds
        phases = [
            (s, "writes past maxmemory", ["-c", "50", "-P", "8", "-r", "2000000", "-d", "1024", "-t", "set"]),
            (s, "writes that fit", ["-c", "50", "-P", "8", "-r", "50000", "-d", "256", "-t", "set"]),
            (s, "reads (hits and misses)", ["-c", "50", "-P", "8", "-r", "100000", "-t", "get"]),
            (s, "writes with a TTL", ["-c", "50", "-P", "8", "-r", "1000000",
                                       "SET", "ttl:__rand_int__", "v", "PX", "1500"]),
        ]
        events = []
        loader = threading.Thread(target=load, args=(port, phases, events))
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        scrapes = Scrapes()
        start = time.time()
        loader.start()
        bgsave_at = start + 2.5 * s
        bgsave_done = False
        while loader.is_alive() or time.time() - start < len(phases) * s + 3:
            scrapes.take(url, time.time() - start)
            if not bgsave_done and time.time() >= bgsave_at:
                subprocess.run(["redis-cli", "-p", str(port), "BGSAVE"], stdout=subprocess.DEVNULL)
                events.append((time.time(), "BGSAVE"))
                bgsave_done = True
            time.sleep(1)
        loader.join()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)

    def xy(points, scale=1.0):
        return [p[0] for p in points], [p[1] * scale for p in points]

    panels = [
        ("Throughput (commands/s)", lambda ax: [
            ax.plot(*xy(rate(scrapes.one("redis_commands_processed_total"))), label="all"),
            [ax.plot(*xy(rate(points)), label=dict(l)["cmd"])
             for l, points in scrapes.named("redis_commands_total").items()
             if dict(l)["cmd"] in ("set", "get")],
        ]),
        ("Latency percentiles per command", lambda ax: [
            ax.plot(*xy(divide(rate(scrapes.one("redis_commands_duration_seconds_total", cmd=cmd)),
                               rate(scrapes.one("redis_commands_total", cmd=cmd))), 1e6),
                    label=f"{cmd} mean")
            for cmd in ("set", "get")
        ] + [
            ax.plot(*xy(points), label=f"{dict(l)['cmd']} p{float(dict(l)['quantile']) * 100:g}")
            for l, points in scrapes.named("redis_latency_percentiles_usec").items()
            if dict(l)["cmd"] in ("set", "get")
        ]),
        ("Memory", lambda ax: [
            ax.plot(*xy(scrapes.one("redis_memory_used_bytes"), 2 ** -20), label="used (MiB)"),
            ax.plot(*xy(scrapes.one("redis_memory_used_rss_bytes"), 2 ** -20), label="rss (MiB)"),
            ax.plot(*xy(scrapes.one("redis_memory_max_bytes"), 2 ** -20), "--", label="maxmemory (MiB)"),
        ]),
        ("Keyspace hit ratio", lambda ax: ax.plot(*xy(divide(
            rate(scrapes.one("redis_keyspace_hits_total")),
            [(t, h + m) for (t, h), (_, m) in zip(rate(scrapes.one("redis_keyspace_hits_total")),
                                                  rate(scrapes.one("redis_keyspace_misses_total")))],
        )), label="hit ratio")),
        ("Clients", lambda ax: [
            ax.plot(*xy(scrapes.one("redis_connected_clients")), label="connected"),
            ax.plot(*xy(scrapes.one("redis_blocked_clients")), label="blocked"),
        ]),
        ("Evictions and expirations", lambda ax: [
            ax.plot(*xy(rate(scrapes.one("redis_evicted_keys_total"))), label="evicted/s"),
            ax.plot(*xy(rate(scrapes.one("redis_expired_keys_total"))), label="expired/s"),
        ]),
        ("Persistence", lambda ax: [
            ax.plot(*xy(scrapes.one("redis_rdb_changes_since_last_save"), 1e-3),
                    label="changes since last save (thousands)"),
            ax.plot(*xy(scrapes.one("redis_aof_current_size_bytes"), 2 ** -20), label="AOF size (MiB)"),
        ]),
        ("AOF fsync and snapshot lock hold (p99)", lambda ax: [
            ax.plot(*xy(histogram_p99(scrapes, "redis_lite_aof_fsync_seconds"), 1e3), "o-",
                    label="AOF fsync p99 (ms, bucket bound)"),
            ax.plot(*xy(histogram_p99(scrapes, "redis_lite_snapshot_lock_hold_seconds"), 1e3), "s",
                    label="snapshot lock hold p99 (ms)"),
        ]),
        ("Load per thread (CPU)", lambda ax: [
            ax.plot(*xy(rate(points)), label=dict(l)["thread"])
            for l, points in scrapes.named("redis_lite_thread_cpu_seconds_total").items()
            if max((v for _, v in rate(points)), default=0) > 0.02
        ]),
    ]
    missing = [title for title, _ in panels if title not in titles]
    assert not missing, f"not panels of {DASHBOARD}: {missing}"

    fig, axes = plt.subplots(3, 3, figsize=(18, 11))
    for ax, (title, draw) in zip(axes.flat, panels):
        draw(ax)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.set_xlabel("seconds")
        for when, label in events:
            ax.axvline(when - start, color="grey", alpha=0.4, lw=0.8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left")
    labels = ", ".join(f"{when - start:.0f}s {label}" for when, label in events)
    fig.suptitle(f"redis-lite dashboard, from /metrics scraped every second (phases: {labels})", fontsize=11)
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out} from {len(scrapes.times)} scrapes")


if __name__ == "__main__":
    main()
