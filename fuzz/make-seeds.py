#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from real files and captures.

Real Redis 7.0.15 (`redis-server` on PATH) is started in a temporary directory on a free port,
filled with every type in each of its encodings (streams with consumer groups, listpacks,
intsets, quicklists, big values, expiries, a function library), and then:
- its RDB files (SAVE of the whole dataset and of each key alone) seed `rdb` and, without
  their CRC footer, `rdb_nocrc`;
- its DUMP payloads seed `restore`, the listpack and intset blobs inside them seed
  `listpack` and `intset`, and a compressed string's LZF stream seeds `lzf`;
- its AOF (RDB preamble base, RESP base, incremental file with MULTI/EXEC, manifest) seeds
  `aof` and `aof_manifest`;
- its replies to a real client's requests, captured off the socket in RESP2 and RESP3, seed
  `resp_reply` and `lua_reply`, and the requests themselves seed `resp_request`;
- what it sends a replica (PSYNC with and without the EOF capability) seeds `replication`;
- the cluster bus MEET it sends a new node seeds `clusterbus`.
redis-lite (`target/debug/redis-lite-server`, built if missing) is given the same dataset
with encryption on, and its sealed RDB and AOF files seed `sealed`. Ziplists, which Redis 7
no longer writes, are encoded here from their documented layout. Run from anywhere:
`python3 fuzz/make-seeds.py`; it replaces the corpora it writes.
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import redis

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
CORPUS = os.path.join(FUZZ, "corpus")
# The key the `sealed` target's keyring holds (fuzz_targets/sealed.rs).
FUZZ_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def start(program, workdir, extra=()):
    port = free_port()
    proc = subprocess.Popen(
        [program, "--port", str(port), "--dir", workdir, "--save", "", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port, client
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit(f"{program} did not start")


def wait_for(what, check):
    for _ in range(400):
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def populate(r):
    """Every type in each encoding Redis 7.0 writes, kept small."""
    r.set("str:int", 12345)
    r.set("str:short", "hello")
    r.set("str:bin", bytes(range(256)))
    r.set("str:long", "abcdefghij" * 40)
    r.set("str:expiring", "v", px=10_000_000)
    r.rpush("list:listpack", "a", "b", 1, -7, 300000, "x" * 70)
    r.rpush("list:quicklist", *[f"element-{i}" for i in range(200)])
    r.sadd("set:intset", 1, 2, 3, -40000, 2**40)
    r.sadd("set:hashtable", *[f"member{i}" for i in range(20)])
    r.zadd("zset:listpack", {"a": 1, "b": 2.5, "c": -3})
    r.zadd("zset:skiplist", {f"m{i}": i / 3 for i in range(140)})
    r.hset("hash:listpack", mapping={"f1": "v1", "f2": 2, "f3": "x" * 30})
    r.hset("hash:hashtable", mapping={f"field{i}": f"value{i}" for i in range(140)})
    for i in range(5):
        r.xadd("stream", {"field": f"value{i}", "n": i}, id=f"{1000 + i}-{i}")
    r.xgroup_create("stream", "group", id="0")
    r.xreadgroup("group", "consumer", {"stream": ">"}, count=2)
    r.xdel("stream", "1004-4")
    r.execute_command("SELECT", 3)
    r.set("db3:key", "in db 3")
    r.execute_command("SELECT", 0)
    r.function_load(
        "#!lua name=fuzzlib\nredis.register_function('echo1', function(keys, args) return args[1] end)"
    )


def read_len(buf, pos):
    """An RDB length: (value, next position), or (None, pos) for a special encoding."""
    b = buf[pos]
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, pos + 1
    if kind == 1:
        return ((b & 0x3F) << 8) | buf[pos + 1], pos + 2
    if b == 0x80:
        return struct.unpack(">I", buf[pos + 1 : pos + 5])[0], pos + 5
    if b == 0x81:
        return struct.unpack(">Q", buf[pos + 1 : pos + 9])[0], pos + 9
    return None, pos


def raw_string(payload, pos=1):
    """The uncompressed RDB string at `pos` of a DUMP payload."""
    n, pos = read_len(payload, pos)
    return payload[pos : pos + n]


def real_redis(workdir):
    proc, port, r = start(
        "redis-server",
        workdir,
        ["--appendonly", "no", "--appenddirname", "aof", "--repl-diskless-sync-delay", "0",
         "--enable-debug-command", "yes"],
    )
    try:
        populate(r)
        r.config_set("rdbcompression", "no")
        keys = sorted(k for k in r.keys("*"))
        # DUMP payloads (uncompressed, so the blobs inside are readable) and their blobs.
        blob_targets = {16: "listpack", 17: "listpack", 11: "intset", 15: "listpack"}
        for k in keys:
            payload = r.dump(k)
            name = k.decode().replace(":", "-")
            seed("restore", name, payload[:-10])
            target = blob_targets.get(payload[0])
            if target:
                seed(target, name, raw_string(payload))
        # LZF: a compressed string payload is type 0, 0xC3, compressed len, plain len, data.
        r.config_set("rdbcompression", "yes")
        packed = r.dump("str:long")
        clen, pos = read_len(packed, 2)
        ulen, pos = read_len(packed, pos)
        seed("lzf", "str-long", struct.pack("<H", ulen) + packed[pos : pos + clen])
        seed("restore", "str-long-lzf", packed[:-10])
        # The whole dataset, and each key alone, as RDB files.
        r.save()
        whole = open(os.path.join(workdir, "dump.rdb"), "rb").read()
        seed("rdb", "redis-all-types", whole)
        seed("rdb_nocrc", "redis-all-types", whole[:-8])
        dumps = {k: r.dump(k) for k in keys if not k.startswith(b"db3")}
        for k, payload in dumps.items():
            r.flushall()
            r.restore(k, 0, payload)
            r.save()
            data = open(os.path.join(workdir, "dump.rdb"), "rb").read()
            name = k.decode().replace(":", "-")
            seed("rdb", name, data)
            seed("rdb_nocrc", name, data[:-8])
        for k, payload in dumps.items():
            r.restore(k, 0, payload, replace=True)
        capture_replies(port)
        capture_replication(port)
        capture_cluster_meet()
        # AOF: a base with an RDB preamble, an incremental file with a transaction, and a
        # base rewritten as commands.
        aofdir = os.path.join(workdir, "aof")
        r.config_set("appendonly", "yes")
        wait_for("the first AOF rewrite", lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
                 and os.path.exists(os.path.join(aofdir, "appendonly.aof.manifest")))
        pipe = r.pipeline(transaction=True)
        pipe.incr("counter").lpush("list:listpack", "pushed").expire("counter", 100)
        pipe.execute()
        r.set("after", "exec")
        r.execute_command("SELECT", 2)
        r.hset("db2:hash", "f", "v")
        for f in sorted(os.listdir(aofdir)):
            data = open(os.path.join(aofdir, f), "rb").read()
            seed("aof_manifest" if f.endswith("manifest") else "aof", "redis-" + f.replace(".", "-"), data)
        r.config_set("aof-use-rdb-preamble", "no")
        r.bgrewriteaof()
        wait_for("the RESP AOF rewrite", lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
                 and r.info("persistence")["aof_rewrite_scheduled"] == 0)
        time.sleep(0.2)
        for f in sorted(os.listdir(aofdir)):
            if f.endswith("base.aof"):
                data = open(os.path.join(aofdir, f), "rb").read()
                seed("aof", "redis-resp-base", data)
            if f.endswith("manifest"):
                seed("aof_manifest", "redis-after-rewrite", open(os.path.join(aofdir, f), "rb").read())
    finally:
        proc.terminate()
        proc.wait()


def resp_command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def exchange(sock, request, quiet=0.15):
    """Sends `request`, returns everything the server sent until it went quiet."""
    sock.sendall(request)
    sock.settimeout(quiet)
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return got
        if not chunk:
            return got
        got += chunk


# Requests whose replies cover every reply type in both protocols.
REQUESTS = [
    ("PING",), ("GET", "str:short"), ("GET", "missing"), ("INCR", "str:int"),
    ("LRANGE", "list:listpack", 0, -1), ("HGETALL", "hash:listpack"),
    ("SMEMBERS", "set:intset"), ("ZRANGE", "zset:listpack", 0, -1, "WITHSCORES"),
    ("XRANGE", "stream", "-", "+"), ("XINFO", "STREAM", "stream"), ("GET", "str:bin"),
    ("HSET",), ("LPOP", "str:short"), ("CONFIG", "GET", "maxmemory*"),
    ("CLIENT", "INFO"), ("LPOS", "list:listpack", "nope"), ("ZSCORE", "zset:listpack", "b"),
    ("SISMEMBER", "set:intset", 1), ("DEBUG", "PROTOCOL", "bignum"),
    ("DEBUG", "PROTOCOL", "verbatim"), ("DEBUG", "PROTOCOL", "true"),
    ("DEBUG", "PROTOCOL", "attrib"), ("DEBUG", "PROTOCOL", "double"),
    ("MEMORY", "STATS"), ("EVAL", "return {1, 'two', {3, false}, redis.status_reply('OK')}", 0),
]


def capture_replies(port):
    """Real requests and the real replies to them, raw off the socket."""
    for proto in (2, 3):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            if proto == 3:
                seed("resp_reply", "hello-3", exchange(sock, resp_command("HELLO", 3)))
            batch = b"".join(resp_command(*req) for req in REQUESTS)
            seed("resp_request", f"resp{proto}-requests", batch)
            for i, req in enumerate(REQUESTS):
                reply = exchange(sock, resp_command(*req))
                if reply:
                    seed("resp_reply", f"resp{proto}-{i:02}-{req[0].lower()}", reply)
                    seed("lua_reply", f"resp{proto}-{i:02}-{req[0].lower()}", bytes([proto]) + reply)
            with socket.create_connection(("127.0.0.1", port)) as sub:
                if proto == 3:
                    exchange(sub, resp_command("HELLO", 3))
                reply = exchange(sub, resp_command("SUBSCRIBE", "chan"))
                with redis.Redis(port=port) as pub:
                    pub.publish("chan", "message")
                reply += exchange(sub, b"")
                seed("resp_reply", f"resp{proto}-pubsub", reply)
    seed("resp_request", "inline", b"SET \"quoted \\x41 key\" 'single' plain\r\nPING\n\r\nGET k\r\n")
    seed("resp_request", "pipelined-mixed", resp_command("SET", "k", "v") + b"GET k\r\n" + resp_command("DEL", "k"))


def capture_replication(port):
    """What a master sends a replica: the handshake replies, the snapshot and the stream."""
    for name, capa in (("length", ()), ("eof-mark", ("capa", "eof"))):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            stream = exchange(sock, resp_command("REPLCONF", "listening-port", 6390))
            if capa:
                stream += exchange(sock, resp_command("REPLCONF", *capa, "capa", "psync2"))
            sock.sendall(resp_command("PSYNC", "?", -1))
            stream += exchange(sock, b"", quiet=1.0)
            with redis.Redis(port=port) as w:
                w.set("replicated", "value")
                w.lpush("list:listpack", "more")
                w.execute_command("SELECT", 5)
            stream += exchange(sock, b"", quiet=0.5)
            # The fuzz target starts at the PSYNC reply: drop the REPLCONF replies.
            while stream.startswith(b"+OK\r\n"):
                stream = stream[5:]
            seed("replication", name, stream)


def capture_cluster_meet():
    """The MEET a real cluster node sends to a node it is told to meet."""
    workdir = tempfile.mkdtemp()
    proc, port, r = start("redis-server", workdir, ["--cluster-enabled", "yes"])
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            bus_port = listener.getsockname()[1]
            r.execute_command("CLUSTER", "MEET", "127.0.0.1", bus_port, bus_port)
            listener.settimeout(10)
            conn, _ = listener.accept()
            with conn:
                seed("clusterbus", "redis-meet", exchange(conn, b"", quiet=1.0))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    shutil.copy(os.path.join(ROOT, "crates/clusterbus/tests/captures/meet-with-hostname.bin"),
                os.path.join(CORPUS, "clusterbus", "meet-with-hostname"))


def ziplist(entries):
    """A ziplist of `entries` (bytes or int), from its documented layout."""
    body, sizes, prev = b"", [], 0
    for e in entries:
        head = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        if isinstance(e, int):
            if 0 <= e <= 12:
                enc = bytes([0xF1 + e])
            elif -128 <= e < 128:
                enc = b"\xfe" + struct.pack("<b", e)
            elif -32768 <= e < 32768:
                enc = b"\xc0" + struct.pack("<h", e)
            elif -(2**23) <= e < 2**23:
                enc = b"\xf0" + struct.pack("<i", e)[:3]
            elif -(2**31) <= e < 2**31:
                enc = b"\xd0" + struct.pack("<i", e)
            else:
                enc = b"\xe0" + struct.pack("<q", e)
        elif len(e) < 64:
            enc = bytes([len(e)]) + e
        elif len(e) < 16384:
            enc = struct.pack(">H", 0x4000 | len(e)) + e
        else:
            enc = b"\x80" + struct.pack(">I", len(e)) + e
        entry = head + enc
        sizes.append(len(body))
        body += entry
        prev = len(entry)
    tail = 10 + (sizes[-1] if sizes else 0)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail, min(len(entries), 65535)) + body + b"\xff"


def ziplists():
    seed("ziplist", "empty", ziplist([]))
    seed("ziplist", "small-ints", ziplist([0, 5, 12, -1, 100, -300, 70000, -(2**30), 2**40]))
    seed("ziplist", "strings", ziplist([b"a", b"hello", b"x" * 70, b"", b"y" * 300]))
    seed("ziplist", "hash-pairs", ziplist([b"field", b"value", b"n", 42]))


def redis_lite(workdir):
    """redis-lite's own sealed files: an encrypted RDB and an encrypted AOF log."""
    binary = os.path.join(ROOT, "target/debug/redis-lite-server")
    if not os.path.exists(binary):
        subprocess.run(["cargo", "build", "-p", "redis-lite-server", "--bin", "redis-lite-server"],
                       cwd=ROOT, check=True)
    keyfile = os.path.join(workdir, "key")
    with open(keyfile, "w") as f:
        f.write(FUZZ_KEY + "\n")
    os.chmod(keyfile, 0o600)
    proc, _, r = start(binary, workdir, ["--encryption", "yes", "--encryption-key-file", keyfile,
                                         "--appendonly", "yes", "--appenddirname", "aof"])
    try:
        populate(r)
        r.save()
        seed("sealed", "lite-rdb", open(os.path.join(workdir, "dump.rdb"), "rb").read())
        r.set("after", "save")
        r.incr("counter")
        aofdir = os.path.join(workdir, "aof")
        wait_for("the AOF files", lambda: os.path.isdir(aofdir) and any(f.endswith("incr.aof") for f in os.listdir(aofdir)))
        time.sleep(1.5)  # appendfsync everysec
        for f in sorted(os.listdir(aofdir)):
            if f.endswith(".aof"):
                seed("sealed", "lite-" + f.replace(".", "-"), open(os.path.join(aofdir, f), "rb").read())
        r.config_set("encryption", "no")
        r.save()
        data = open(os.path.join(workdir, "dump.rdb"), "rb").read()
        seed("rdb", "lite-all-types", data)
        seed("rdb_nocrc", "lite-all-types", data[:-8])
    finally:
        proc.terminate()
        proc.wait()


def configs():
    """redis.conf's directives (Debian's file without its comments) and small configs."""
    try:
        text = open("/etc/redis/redis.conf", "rb").read()
        lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith(b"#")]
        seed("config", "debian-redis-conf", b"\n".join(lines) + b"\n")
    except OSError:
        pass
    seed("config", "quoting", b'port 6380\ndir "/tmp/with space"\nsave 900 1 300 10\nsave 60 10000\n'
         b"requirepass 'p\\x41ss'\nrename-command CONFIG \"\"\nuser alice on >pw ~* +@all\n")
    seed("config", "memory-units", b"maxmemory 1gb\nmaxmemory-policy allkeys-lru\n"
         b"client-output-buffer-limit normal 0 0 0 replica 256mb 64mb 60\n"
         b"list-max-listpack-size -2\nhz 10\nnotify-keyspace-events KEA\n")


def main():
    if shutil.which("redis-server") is None:
        sys.exit("redis-server (7.0.15) is needed: the seeds are its files")
    shutil.rmtree(CORPUS, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work:
        real_redis(work)
    with tempfile.TemporaryDirectory() as work:
        redis_lite(work)
    ziplists()
    configs()


if __name__ == "__main__":
    main()
