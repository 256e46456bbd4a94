#!/usr/bin/env python3
"""XREADGROUP+XACK pairs per second on one server: fills stream `pairs` with --entries entries
and creates group `g` at its start, then --clients processes, each a consumer of its own, read
one entry at a time (XREADGROUP COUNT 1 ... >) and acknowledge it (XACK), until the group has
delivered every entry. Prints `pairs_per_s=<n> server_cpu_us_per_pair=<n>`: pairs over the wall
time from the clients' start to the last one's end, and the server's CPU time (INFO cpu, user
plus system) spent over that time per pair, since clients and server share the machine's cores.

Usage: bench/xreadgroup_pairs.py PORT [--entries 100000] [--clients 4]
"""
import argparse, multiprocessing, socket, time

import redis

from servers import encode


def read_reply(f):
    """One RESP2 reply: bytes, int, None, or a list; an error raises."""
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b":":
        return int(rest)
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise RuntimeError(f"bad reply {line!r}")


def consume(port, consumer, barrier, done):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = sock.makefile("rb")
    read = encode("XREADGROUP", "GROUP", "g", consumer, "COUNT", 1, "STREAMS", "pairs", ">")
    pairs = 0
    barrier.wait()
    while True:
        sock.sendall(read)
        reply = read_reply(f)
        if reply is None:
            break
        entry_id = reply[0][1][0][0]
        sock.sendall(encode("XACK", "pairs", "g", entry_id))
        if read_reply(f) != 1:
            raise RuntimeError(f"XACK {entry_id!r} did not acknowledge it")
        pairs += 1
    done.put(pairs)


def server_cpu(client):
    cpu = client.info("cpu")
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--entries", type=int, default=100000)
    parser.add_argument("--clients", type=int, default=4)
    opts = parser.parse_args()
    client = redis.Redis(port=opts.port)
    client.delete("pairs")
    for start in range(0, opts.entries, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + 1000, opts.entries)):
            pipe.xadd("pairs", {"field": f"value:{i}"})
        pipe.execute()
    client.xgroup_create("pairs", "g", id="0")
    barrier = multiprocessing.Barrier(opts.clients + 1)
    done = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=consume, args=(opts.port, f"c{i}", barrier, done))
               for i in range(opts.clients)]
    for w in workers:
        w.start()
    cpu_before = server_cpu(client)
    barrier.wait()
    started = time.perf_counter()
    total = sum(done.get() for _ in workers)
    elapsed = time.perf_counter() - started
    cpu = server_cpu(client) - cpu_before
    for w in workers:
        w.join()
    if total != opts.entries or client.xpending("pairs", "g")["pending"] != 0:
        raise SystemExit(f"{total} pairs for {opts.entries} entries, or entries left pending")
    print(f"pairs_per_s={total / elapsed:.0f} server_cpu_us_per_pair={cpu * 1e6 / total:.2f}")


if __name__ == "__main__":
    main()
