#!/usr/bin/env python3
"""bench/long_commands.py - how long one long command blocks the other clients.

For each server (real Redis, redis-lite), each scenario loads its data, then runs one long
command on one connection while a second connection sends PING after PING and a third GET
after GET of an unrelated key, each waiting for its reply. Reported per scenario: how long the
long command took (send to last reply byte), and the longest PING and GET round trip seen
while it ran: what the command made the other clients wait. Redis runs every command on one
thread, so its stall is the command's length; redis-lite's event loops should stall only
where the command holds what they need (a read of every shard, a free not done lazily).

Usage: bench/long_commands.py [--n 1000000] [--only SCENARIO,...] [--threads N]
       REDIS_LITE_SERVER=path/to/redis-lite-server to measure another build.
Numbers on a loaded machine are rough: the load average is printed with them.
"""
import argparse, os, socket, threading, time

from servers import Server

WIDTH = 8  # every key, member and value is 8 bytes, so each reply's size is known


def name(prefix, i):
    return f"{prefix}{i:0{WIDTH - 1}d}".encode()


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def recv_exact(self, n):
        chunks, have = [self.buf], len(self.buf)
        while have < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("connection closed")
            chunks.append(chunk)
            have += len(chunk)
        data = b"".join(chunks)
        self.buf = data[n:]
        return data[:n]

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise SystemExit("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def simple(self, *args):
        """A command whose reply is one line (status, error, integer)."""
        self.sock.sendall(encode(*args))
        return self.line()

    def pipeline(self, commands):
        """Sends commands (each a one-line reply) in batches, checking none failed."""
        for start in range(0, len(commands), 200):
            batch = commands[start:start + 200]
            self.sock.sendall(b"".join(batch))
            for _ in batch:
                reply = self.line()
                if reply.startswith(b"-"):
                    raise SystemExit(reply.decode())


def array_len(count):
    """The size of a RESP2 array of `count` bulks of WIDTH bytes."""
    return len(b"*%d\r\n" % count) + count * len(b"$%d\r\n%s\r\n" % (WIDTH, b"x" * WIDTH))


def load_keys(conn, n):
    conn.pipeline([encode("MSET", *[x for i in range(s, min(s + 1000, n))
                                    for x in (name("k", i), b"v" * WIDTH)])
                   for s in range(0, n, 1000)])


def load_collection(conn, command, key, n, pairs):
    commands = []
    for s in range(0, n, 1000):
        items = []
        for i in range(s, min(s + 1000, n)):
            if pairs == "score":
                items += [str(i).encode(), name("m", i)]
            elif pairs:
                items += [name("f", i), b"v" * WIDTH]
            else:
                items.append(name("m", i))
        commands.append(encode(command, key, *items))
    conn.pipeline(commands)


# name: (setup(conn, n), command, reply size(n) or None for a one-line reply, settings)
SCENARIOS = {
    "KEYS *": (load_keys, ("KEYS", "*"), lambda n: array_len(n + 1), ()),
    "SMEMBERS": (lambda c, n: load_collection(c, "SADD", "big", n, False),
                 ("SMEMBERS", "big"), array_len, ()),
    "HGETALL": (lambda c, n: load_collection(c, "HSET", "big", n, True),
                ("HGETALL", "big"), lambda n: array_len(2 * n), ()),
    "LRANGE 0 -1": (lambda c, n: load_collection(c, "RPUSH", "big", n, False),
                    ("LRANGE", "big", "0", "-1"), array_len, ()),
    "FLUSHALL": (load_keys, ("FLUSHALL",), None, ()),
    "FLUSHALL ASYNC": (load_keys, ("FLUSHALL", "ASYNC"), None, ()),
    "DEL set": (lambda c, n: load_collection(c, "SADD", "big", n, False),
                ("DEL", "big"), None, ()),
    "DEL set, lazyfree-lazy-user-del": (
        lambda c, n: load_collection(c, "SADD", "big", n, False),
        ("DEL", "big"), None, (("lazyfree-lazy-user-del", "yes"),)),
    "UNLINK set": (lambda c, n: load_collection(c, "SADD", "big", n, False),
                   ("UNLINK", "big"), None, ()),
    "DEL zset": (lambda c, n: load_collection(c, "ZADD", "big", n, "score"),
                 ("DEL", "big"), None, ()),
}


def prober(port, command, stop, worst):
    """Sends `command` (a line or bulk reply) in a loop until `stop`, recording the longest
    round trip in worst[0]."""
    conn = Conn(port)
    payload = encode(*command)
    while not stop.is_set():
        started = time.perf_counter()
        conn.sock.sendall(payload)
        line = conn.line()
        if line.startswith(b"$") and line != b"$-1":
            conn.recv_exact(int(line[1:]) + 2)
        worst[0] = max(worst[0], time.perf_counter() - started)


def run(kind, extra, scenario, n):
    setup, command, reply_len, settings = SCENARIOS[scenario]
    with Server(kind, extra) as server:
        main = Conn(server.port)
        for parameter, value in settings:
            main.simple("CONFIG", "SET", parameter, value)
        setup(main, n)
        main.simple("SET", "otherkey", "x" * WIDTH)
        stop, worst_ping, worst_get = threading.Event(), [0.0], [0.0]
        probes = [threading.Thread(target=prober, args=(server.port, ("PING",), stop, worst_ping)),
                  threading.Thread(target=prober, args=(server.port, ("GET", "otherkey"), stop,
                                                        worst_get))]
        for p in probes:
            p.start()
        time.sleep(0.5)  # the probes' own round trips settle first
        baseline = max(worst_ping[0], worst_get[0])
        worst_ping[0] = worst_get[0] = 0.0
        started = time.perf_counter()
        main.sock.sendall(encode(*command))
        if reply_len is None:
            main.line()
        else:
            main.recv_exact(reply_len(n))
        took = time.perf_counter() - started
        stop.set()
        for p in probes:
            p.join()
        return took, worst_ping[0], worst_get[0], baseline


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--only", default="")
    parser.add_argument("--threads", default="", help="redis-lite's --threads (its default if empty)")
    args = parser.parse_args()
    scenarios = [s for s in SCENARIOS if not args.only or s in args.only.split(",")]
    lite_extra = ("--threads", args.threads) if args.threads else ()
    print(f"n={args.n}  load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"{'scenario':34} {'server':10} {'command ms':>10} {'max PING ms':>11} "
          f"{'max GET ms':>10} {'idle ms':>8}")
    for scenario in scenarios:
        for kind, extra in (("redis", ()), ("lite", lite_extra)):
            took, ping, get, idle = run(kind, extra, scenario, args.n)
            print(f"{scenario:34} {kind:10} {took * 1e3:10.1f} {ping * 1e3:11.1f} "
                  f"{get * 1e3:10.1f} {idle * 1e3:8.1f}", flush=True)
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
