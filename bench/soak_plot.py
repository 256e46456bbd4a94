#!/usr/bin/env python3
"""Draws a soak run (bench/soak.py's samples.csv and summary.json) as one PNG: RSS and
used_memory, keys per database, commands per second with the machine's load, each over time,
with the BGSAVE and BGREWRITEAOF the script asked for marked, and every snapshot running
(automatic rewrites too) shaded.

    pip install matplotlib
    python3 bench/soak_plot.py bench/results/<date>-soak   # writes soak.png there
"""
import csv, json, os, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    run = sys.argv[1]
    with open(os.path.join(run, "samples.csv")) as f:
        rows = list(csv.DictReader(f))
    summary_path = os.path.join(run, "summary.json")
    events, t0 = [], None
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
        # Maintenance events carry wall-clock times; samples count from the run's start.
        events, t0 = summary.get("maintenance", []), summary.get("started_at")
    column = lambda name: [float(r[name]) for r in rows]  # noqa: E731
    minutes = [t / 60 for t in column("t")]
    mib = lambda name: [v / 2**20 for v in column(name)]  # noqa: E731

    fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    memory, keys, ops = axes
    memory.plot(minutes, mib("rss"), label="RSS")
    memory.plot(minutes, mib("used_memory"), label="used_memory")
    memory.set_ylabel("MiB")
    memory.legend(loc="lower right")
    memory.set_title("redis-lite soak: memory")
    keys.plot(minutes, column("keys_db0"), label="keys, db 0 (TTL, evicted)")
    keys.plot(minutes, column("keys_db1"), label="keys, db 1 (shadowed by real Redis)")
    keys.set_ylabel("keys")
    keys.legend(loc="lower right")
    keys.set_title("dataset")
    ops.plot(minutes, column("ops_per_sec"), label="commands/s", linewidth=0.6)
    ops.set_ylabel("commands/s")
    ops.set_xlabel("minutes")
    load = ops.twinx()
    load.plot(minutes, column("load1"), color="gray", label="load average (1 min)")
    load.set_ylabel("load average")
    ops.legend(loc="lower left")
    load.legend(loc="lower right")
    ops.set_title("throughput (2 shared cores) and machine load")
    if t0 is not None:
        for event in events:
            at = (event["t"] - t0) / 60
            colour = "tab:red" if event["job"] == "BGSAVE" else "tab:green"
            for axis in axes:
                axis.axvline(at, color=colour, alpha=0.3, linewidth=0.8)
        memory.plot([], [], color="tab:red", alpha=0.5, label="BGSAVE")
        memory.plot([], [], color="tab:green", alpha=0.5, label="BGREWRITEAOF")
        memory.legend(loc="lower right")
    if "snapshot_running" in rows[0]:
        # Every snapshot, automatic AOF rewrites included, shaded on the keys panel.
        running = column("snapshot_running")
        keys.fill_between(minutes, 0, 1, where=[r > 0 for r in running], color="tab:purple",
                          alpha=0.15, transform=keys.get_xaxis_transform(), linewidth=0,
                          label="BGSAVE or AOF rewrite running")
        keys.legend(loc="lower right")
    fig.tight_layout()
    out = os.path.join(run, "soak.png")
    fig.savefig(out, dpi=90)
    print(out)


if __name__ == "__main__":
    main()
