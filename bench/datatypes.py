#!/usr/bin/env python3
"""Data-type throughput, real Redis and redis-lite side by side.

Runs redis-benchmark's LPUSH, LPOP, HSET, SADD and ZADD tests, and a blocking-pop hand-off
(clients blocked in BRPOP served by concurrent LPUSHes), against each server in turn, rotating
the order every round. Reports the median requests/s over rounds and the ratio to Redis.

Usage: bench/datatypes.py [--rounds 3] [--requests 100000] [--lite PATH] [--redis PATH]
"""

import argparse
import csv
import io
import os
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command, port):
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start: {command}")


def flush(port):
    subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"], stdout=subprocess.DEVNULL, check=True)


def benchmark(port, requests, tests):
    """requests/s of each redis-benchmark test, as {name: rps}."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "-r", "100000", "-t", tests, "--csv"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}


def blocking_handoff(port, requests):
    """Pops per second when 50 clients wait in BRPOP and 50 others LPUSH."""
    popper = subprocess.Popen(
        ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "--csv", "BRPOP", "handoff", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    time.sleep(0.3)
    subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "-q", "LPUSH", "handoff", "x"],
        stdout=subprocess.DEVNULL, check=True,
    )
    out, _ = popper.communicate(timeout=120)
    rows = list(csv.reader(io.StringIO(out)))
    return float(rows[1][1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--redis", default="redis-server")
    parser.add_argument("--lite", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "redis-lite-server"))
    args = parser.parse_args()

    servers = {}
    workdir = tempfile.mkdtemp(prefix="bench-datatypes-")
    for label, command in [
        ("redis", lambda p: [args.redis, "--port", str(p), "--save", "", "--appendonly", "no", "--dir", workdir]),
                ("lite", lambda p: [args.lite, "--port", str(p)]),
        ("lite-t1", lambda p: [args.lite, "--port", str(p), "--threads", "1"]),
    ]:
        port = free_port()
        servers[label] = (port, start(command(port), port))

    results = {}
    labels = list(servers)
    try:
        for round_no in range(args.rounds):
            order = labels[round_no % len(labels):] + labels[:round_no % len(labels)]
            for label in order:
                port = servers[label][0]
                flush(port)
                for name, rps in benchmark(port, args.requests, "lpush,lpop,hset,sadd,zadd").items():
                    results.setdefault((name, label), []).append(rps)
                flush(port)
                results.setdefault(("BRPOP hand-off", label), []).append(blocking_handoff(port, args.requests // 2))
    finally:
        for _, proc in servers.values():
            proc.kill()

    tests = list(dict.fromkeys(name for name, _ in results))
    print(f"rounds={args.rounds} requests={args.requests} clients=50 (medians of requests/s; ratios to redis)")
    print(f"{'test':<16} {'redis':>10} {'lite':>10} {'ratio':>6} {'lite-t1':>10} {'ratio':>6}")
    for name in tests:
        redis, lite, single = (statistics.median(results[(name, label)]) for label in labels)
        print(f"{name:<16} {redis:>10,.0f} {lite:>10,.0f} {lite / redis:>6.2f} {single:>10,.0f} {single / redis:>6.2f}")


if __name__ == "__main__":
    main()
