#!/usr/bin/env python3
"""BGSAVE under load, redis-lite against real Redis, alternating in one run.

For each round and server: load N keys (DEBUG POPULATE), start W writer processes doing SETs
on random keys, then BGSAVE while they run. Reports, per server, the medians over rounds of:
  - the longest latency any writer saw during the BGSAVE (and before it, as a baseline);
  - the BGSAVE command's own latency (fork time, for Redis);
  - the peak extra memory: for redis-lite the rise in used_memory (allocator-exact, sampled
    every 5 ms) while the save runs; for Redis the copy-on-write size it reports
    (max of current_cow_peak and rdb_last_cow_size).

Usage: bench/bgsave.py [--keys 1000000] [--writers 4] [--rounds 3] [--value-size 32]
"""
import argparse, multiprocessing as mp, os, random, statistics, sys, time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Server  # noqa: E402


def writer(port, keys, stop, out):
    client = redis.Redis(port=port)
    samples = []
    rnd = random.Random(os.getpid())
    while not stop.is_set():
        key = f"key:{rnd.randrange(keys)}"
        t0 = time.time()
        client.set(key, "x" * 32)
        samples.append((t0, time.time() - t0))
    out.put(samples)


def info(client, section):
    return client.info(section)


def one_run(kind, args):
    with Server(kind) as server:
        client, port = server.client, server.port
        client.execute_command("DEBUG", "POPULATE", args.keys, "key", args.value_size)
        queue, stop = mp.Queue(), mp.Event()
        workers = [mp.Process(target=writer, args=(port, args.keys, stop, queue))
                   for _ in range(args.writers)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        before = info(client, "memory")["used_memory"]
        t0 = time.time()
        client.bgsave()
        bgsave_cmd = time.time() - t0
        peak_mem, peak_cow = before, 0
        while True:
            persistence = info(client, "persistence")
            peak_cow = max(peak_cow, persistence.get("current_cow_peak", 0))
            peak_mem = max(peak_mem, info(client, "memory")["used_memory"])
            if not persistence["rdb_bgsave_in_progress"] and time.time() - t0 > 0.05:
                break
            time.sleep(0.005)
        t1 = time.time()
        persistence = info(client, "persistence")
        assert persistence["rdb_last_bgsave_status"] == "ok", persistence
        time.sleep(0.5)
        stop.set()
        samples = []
        for _ in workers:
            samples += queue.get(timeout=60)
        for w in workers:
            w.join()
        during = [lat for (ts, lat) in samples if t0 <= ts <= t1]
        baseline = [lat for (ts, lat) in samples if ts < t0]
        extra = (peak_mem - before) if kind == "lite" else max(peak_cow, persistence.get("rdb_last_cow_size", 0))
        return {
            "save_s": t1 - t0,
            "bgsave_cmd_ms": bgsave_cmd * 1000,
            "max_pause_ms": max(during) * 1000 if during else float("nan"),
            "baseline_max_ms": max(baseline) * 1000 if baseline else float("nan"),
            "extra_mb": extra / 2**20,
            "dataset_mb": before / 2**20,
            "writes_during": len(during),
        }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--value-size", type=int, default=32)
    args = p.parse_args()
    mp.set_start_method("fork")
    results = {"redis": [], "lite": []}
    for r in range(args.rounds):
        for kind in ("redis", "lite") if r % 2 == 0 else ("lite", "redis"):
            res = one_run(kind, args)
            results[kind].append(res)
            print(f"round {r} {kind}: " + ", ".join(f"{k}={v:.2f}" for k, v in res.items()), flush=True)
    fields = ["save_s", "bgsave_cmd_ms", "max_pause_ms", "baseline_max_ms", "extra_mb", "dataset_mb", "writes_during"]
    print()
    print("| metric (median of %d rounds) | redis | redis-lite | lite/redis |" % args.rounds)
    print("|---|---|---|---|")
    for f in fields:
        a = statistics.median(x[f] for x in results["redis"])
        b = statistics.median(x[f] for x in results["lite"])
        ratio = b / a if a else float("nan")
        print(f"| {f} | {a:.2f} | {b:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
