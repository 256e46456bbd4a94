#!/usr/bin/env python3
"""Hit ratios of eviction policies, redis-lite against real Redis, in one run.

A read-through cache: each request GETs a key and, on a miss, SETs it (100-byte values). Keys
follow a Zipf distribution over --keys keys; maxmemory is set, per server, to its start-up
memory plus 10% of the memory that server needs for the whole working set, so every server
holds about the same share of the keys. Workloads:
  zipf-0.99      Zipf, alpha 0.99
  zipf-0.8       Zipf, alpha 0.8
  zipf-0.99+scan alpha 0.99, with one request in five a one-off key of a sequential scan
Every server sees the same request sequence. Runs alternate between servers, and rotate their
order each round. Reports the hit ratio (hits / requests, after a warm-up of as many requests
as there are keys) as a median over rounds, and the server's CPU time per 1,000 requests.

Usage: bench/hitratio.py [--keys 100000] [--requests 400000] [--rounds 2]
"""
import argparse, bisect, itertools, os, random, statistics, sys, time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Server  # noqa: E402

VALUE = b"v" * 100
BATCH = 200

SERVERS = [
    ("redis allkeys-lru", "redis", "allkeys-lru"),
    ("redis allkeys-lfu", "redis", "allkeys-lfu"),
    ("lite allkeys-lru", "lite", "allkeys-lru"),
    ("lite allkeys-lfu", "lite", "allkeys-lfu"),
    ("lite allkeys-tinylfu", "lite", "allkeys-tinylfu"),
]


def zipf_sampler(n, alpha, rng):
    cumulative = list(itertools.accumulate(1.0 / (i ** alpha) for i in range(1, n + 1)))
    total = cumulative[-1]
    # Shuffle ranks over key names, so popular keys are not neighbours.
    names = list(range(n))
    rng.shuffle(names)
    return lambda: names[bisect.bisect_left(cumulative, rng.random() * total)]


def sequence(workload, keys, count, seed):
    rng = random.Random(seed)
    alpha = 0.8 if workload == "zipf-0.8" else 0.99
    draw = zipf_sampler(keys, alpha, rng)
    scan = itertools.count()
    out = []
    for _ in range(count):
        if workload.endswith("+scan") and rng.random() < 0.2:
            out.append(f"scan:{next(scan)}")
        else:
            out.append(f"key:{draw()}")
    return out


def working_set_bytes(kind, keys):
    """used_memory at start-up, and what the whole working set adds to it."""
    with Server(kind) as server:
        client = server.client
        base = client.info("memory")["used_memory"]
        pipe = client.pipeline(transaction=False)
        for i in range(keys):
            pipe.set(f"key:{i}", VALUE)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        return base, client.info("memory")["used_memory"] - base


def run(kind, policy, maxmemory, requests, warmup):
    with Server(kind, ["--maxmemory", str(maxmemory), "--maxmemory-policy", policy]) as server:
        client = server.client
        hits = counted = 0
        cpu0 = server.cpu_seconds()
        t0 = time.time()
        for start_at in range(0, len(requests), BATCH):
            batch = requests[start_at:start_at + BATCH]
            pipe = client.pipeline(transaction=False)
            for key in batch:
                pipe.get(key)
            values = pipe.execute()
            misses = [k for k, v in zip(batch, values) if v is None]
            if start_at >= warmup:
                counted += len(batch)
                hits += len(batch) - len(misses)
            pipe = client.pipeline(transaction=False)
            for key in misses:
                pipe.set(key, VALUE)
            pipe.execute()
        elapsed = time.time() - t0
        cpu = server.cpu_seconds() - cpu0
        used = client.info("memory")["used_memory"]
        assert used <= maxmemory * 1.05, (kind, policy, used, maxmemory)
        return hits / counted, cpu * 1e6 / len(requests), len(requests) / elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=400_000)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    budgets = {}
    for kind in ("redis", "lite"):
        base, ws = working_set_bytes(kind, args.keys)
        budgets[kind] = base + ws // 10
        print(f"# {kind}: start-up {base} B, working set {ws} B ({ws / args.keys:.0f} B/key), "
              f"maxmemory {budgets[kind]}", flush=True)
    workloads = ["zipf-0.99", "zipf-0.8", "zipf-0.99+scan"]
    results = {}
    for workload in workloads:
        requests = sequence(workload, args.keys, args.keys + args.requests, seed=1)
        for r in range(args.rounds):
            order = SERVERS[r % len(SERVERS):] + SERVERS[:r % len(SERVERS)]
            for label, kind, policy in order:
                ratio, cpu, rate = run(kind, policy, budgets[kind], requests, args.keys)
                results.setdefault((workload, label), []).append((ratio, cpu, rate))
                print(f"# {workload} round {r} {label}: hit ratio {ratio:.4f}, "
                      f"{cpu:.3f} CPU-ms/1k requests, {rate:.0f} requests/s", flush=True)
    print()
    print("| workload | " + " | ".join(label for label, _, _ in SERVERS) + " |")
    print("|---|" + "---|" * len(SERVERS))
    for workload in workloads:
        cells = [f"{statistics.median(x[0] for x in results[(workload, l)]):.4f}" for l, _, _ in SERVERS]
        print(f"| {workload} | " + " | ".join(cells) + " |")
    print()
    print("Server CPU milliseconds per 1,000 requests (median over rounds and workloads):")
    for label, _, _ in SERVERS:
        cpu = statistics.median(x[1] for w in workloads for x in results[(w, label)])
        print(f"  {label}: {cpu:.3f}")


if __name__ == "__main__":
    sys.exit(main())
