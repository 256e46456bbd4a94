#!/usr/bin/env python3
"""bench/long_commands.py - how long one long command blocks the other clients.

For each server (real Redis, redis-lite), each scenario loads its data, then runs one long
command on one connection while PROBES other connections send PING after PING and PROBES more
GET after GET of an unrelated key, each waiting for its reply. Reported per scenario: how long
the long command took (send to last reply byte), and for PING and for GET the longest round
trip the worst-off and the best-off connection saw while it ran: what the command made the
other clients wait. Redis runs every command on one thread, so every connection waits for the
whole command. redis-lite spreads connections over its event loops: a connection on the long
command's loop waits as in Redis, while one on another loop (the best-off) should wait only
where the command holds what it needs (a read of every shard, a free not done lazily).

Usage: bench/long_commands.py [--n 1000000] [--only SCENARIO,...] [--threads N]
       REDIS_LITE_SERVER=path/to/redis-lite-server to measure another build.
Numbers on a loaded machine are rough: the load average is printed with them.
"""
import argparse, multiprocessing, socket, time

from servers import Server, encode

WIDTH = 8  # every key, member and value is 8 bytes, so each reply's size is known
PROBES = 3  # connections per probe command: with two event loops, some are not on the long one


def name(prefix, i):
    return f"{prefix}{i:0{WIDTH - 1}d}".encode()



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
    round trip in `worst`. A process of its own, so that reading the long reply here does not
    hold it up."""
    conn = Conn(port)
    payload = encode(*command)
    while not stop.is_set():
        started = time.perf_counter()
        conn.sock.sendall(payload)
        line = conn.line()
        if line.startswith(b"$") and line != b"$-1":
            conn.recv_exact(int(line[1:]) + 2)
        elapsed = time.perf_counter() - started
        with worst.get_lock():
            worst.value = max(worst.value, elapsed)


def run(kind, extra, scenario, n):
    setup, command, reply_len, settings = SCENARIOS[scenario]
    with Server(kind, extra) as server:
        main = Conn(server.port)
        for parameter, value in settings:
            main.simple("CONFIG", "SET", parameter, value)
        setup(main, n)
        main.simple("SET", "otherkey", "x" * WIDTH)
        stop = multiprocessing.Event()
        worst = {cmd: [multiprocessing.Value("d", 0.0) for _ in range(PROBES)]
                 for cmd in ("PING", "GET")}
        probes = [multiprocessing.Process(target=prober, args=(server.port, command, stop, w))
                  for command in (("PING",), ("GET", "otherkey")) for w in worst[command[0]]]
        for p in probes:
            p.start()
        time.sleep(1.0)  # the probes' own round trips settle first
        everyone = worst["PING"] + worst["GET"]
        baseline = max(w.value for w in everyone)
        for w in everyone:
            w.value = 0.0
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
        stalls = {cmd: sorted(w.value for w in ws) for cmd, ws in worst.items()}
        return took, stalls["PING"], stalls["GET"], baseline


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--only", default="")
    parser.add_argument("--threads", default="", help="redis-lite's --threads (its default if empty)")
    args = parser.parse_args()
    scenarios = [s for s in SCENARIOS if not args.only or s in args.only.split(",")]
    lite_extra = ("--threads", args.threads) if args.threads else ()
    print(f"n={args.n}  load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print("PING/GET ms: the longest round trip of the worst-off / best-off probe connection;"
          " idle ms: the longest before the command")
    print(f"{'scenario':34} {'server':6} {'command ms':>10} {'PING worst':>10} {'PING best':>9} "
          f"{'GET worst':>9} {'GET best':>8} {'idle ms':>7}")
    for scenario in scenarios:
        for kind, extra in (("redis", ()), ("lite", lite_extra)):
            took, ping, get, idle = run(kind, extra, scenario, args.n)
            print(f"{scenario:34} {kind:6} {took * 1e3:10.1f} {ping[-1] * 1e3:10.1f} "
                  f"{ping[0] * 1e3:9.1f} {get[-1] * 1e3:9.1f} {get[0] * 1e3:8.1f} "
                  f"{idle * 1e3:7.1f}", flush=True)
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
