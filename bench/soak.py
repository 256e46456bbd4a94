#!/usr/bin/env python3
"""Soak: a long mixed workload against a release redis-lite, RSS sampled every second, and a
final state checked against real Redis (issue 21, section 5).

The workload (every thread's commands come from `random.Random(seed, thread)`, none depends
on a reply, so a seed names the command stream):
  - chaos workers, database 0: every type (strings, bitmaps, lists, hashes, sets, sorted sets,
    streams, HyperLogLog, geo), Lua scripts and MULTI/EXEC, every key given a TTL after each
    write (a fifth of them 1-15 s, so keys expire all the time, the rest 1-3 days). With
    `maxmemory` small and a `volatile-*` policy (a different one after each BGSAVE or rewrite)
    these keys are evicted continually. Random commands (SPOP, SRANDMEMBER, HRANDFIELD) too.
  - shadow workers, database 1: the same types with deterministic commands only and no TTL, so
    under a volatile policy nothing in database 1 is ever evicted or expired. Each batch goes to
    redis-lite and, in the same order, to a second, real Redis (the shadow); every reply is
    compared as it arrives.
  - every worker owns its key prefix, so the order in which threads interleave cannot change
    any key's final value; workers reconnect every few hundred batches (some RESP3), and a churn
    thread opens short-lived connections all the time.
  - a maintenance thread runs BGSAVE and BGREWRITEAOF alternately (so several of each happen
    in the middle of the run) and rotates the eviction policy.
  - a sampler records, every second: RSS (/proc), used_memory, keys, evicted and expired keys,
    commands processed, whether a BGSAVE or AOF rewrite (asked for or automatic) is running,
    and the machine's load average, into samples.csv (bench/soak_plot.py draws it).

Why the final check is meaningful although evictions and expiries depend on timing: the server
runs with `appendonly yes`, so its AOF (an RDB preamble from the last rewrite plus the
incremental file) records what it actually did, evictions and expiries included as DELs. At the
end the workers stop, the script waits until every short TTL has passed and SCANs every key
(expired ones are deleted, and journaled, now), takes redis-lite's DEBUG DIGEST, shuts it down
and then:
  1. real Redis 7 loads redis-lite's appendonlydir: its DEBUG DIGEST must equal redis-lite's
     (the AOF and RDB files are Redis's formats, and replaying the effects gives the same data);
  2. redis-lite restarted on the same directory must give the same digest again;
  3. database 1 of that loaded Redis (database 0 flushed) must have the shadow Redis's digest:
     the deterministic client stream gave the same data in redis-lite as in real Redis.
Remaining TTLs are over a day, so no key expires between the digest and the reload.
Pass/fail: no error reply outside the expected ones (BUSYGROUP/NOGROUP races in database 0),
no reply that differs from the shadow's, BGSAVE/rewrite statuses ok, the three digests equal,
and RSS flat: the peak of the last third is at most 10% above the peak of the middle third.
When a digest differs, summary.json names the keys behind it (DEBUG DIGEST-VALUE and
PEXPIRETIME of every key, compared), a few per type: the start of a minimal reproduction.

    pip install redis matplotlib
    cargo build --release -p redis-lite-server
    python3 bench/soak.py --duration 1800 --out bench/results/<date>-soak
    python3 bench/soak_plot.py bench/results/<date>-soak
"""
import argparse, csv, json, os, random, shutil, subprocess, sys, tempfile, threading, time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import LITE, free_port  # noqa: E402

SHORT_TTL_MS = (1000, 15000)
LONG_TTL_MS = (86_400_000, 3 * 86_400_000)
POLICIES = ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]
EXPECTED_CHAOS_ERRORS = ("BUSYGROUP", "NOGROUP")
LUA_CHAOS = "redis.call('INCRBY', KEYS[1], ARGV[1]) return redis.call('RPUSH', KEYS[2], ARGV[2])"
LUA_SHADOW = ("local n = redis.call('HINCRBY', KEYS[1], 'calls', 1) "
              "redis.call('ZADD', KEYS[2], n, ARGV[1]) return n")


def start_server(binary, workdir, extra):
    port = free_port()
    log = open(os.path.join(workdir, "server.log"), "ab")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
                             "--save", "", "--enable-debug-command", "yes", *extra],
                            cwd=workdir, stdout=log, stderr=log)
    client = redis.Redis(port=port)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if client.ping():
                loading = client.info("persistence")["loading"]
                if not loading:
                    return proc, port
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{binary} exited with {proc.returncode}; see {workdir}/server.log")
        time.sleep(0.1)
    raise SystemExit(f"{binary} did not start")


def stop_server(proc, port):
    try:
        redis.Redis(port=port).shutdown()
    except redis.exceptions.ConnectionError:
        pass
    proc.wait(timeout=300)


class Tally:
    """Counters every thread adds to, and the first few problems, for the report."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"batches": 0, "commands": 0, "connections": 0, "expected_errors": 0,
                       "errors": 0, "mismatches": 0}
        self.problems = []

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                self.counts[k] += v

    def problem(self, text):
        with self.lock:
            self.problems.append(text)
            if len(self.problems) <= 20:
                print("PROBLEM:", text, flush=True)


class Keys:
    """A worker's key names: its own prefix, a type tag, a small index range per type."""

    def __init__(self, rng, prefix, per_type):
        self.rng, self.prefix, self.per_type = rng, prefix, per_type

    def __call__(self, kind):
        return f"{self.prefix}:{kind}:{self.rng.randrange(self.per_type)}"


def value(rng, big):
    size = rng.choice((8, 32, 100, 300, 1000, 4000) if big else (4, 10, 40))
    return rng.randbytes(size // 2).hex()


def gen_common(rng, key, big):
    """One command of any type, deterministic given the generator (both databases use it)."""
    member = lambda n: f"m{rng.randrange(n)}"  # noqa: E731
    choice = rng.randrange(34)
    if choice == 0:
        return ["SET", key("str"), value(rng, big)]
    if choice == 1:
        return ["APPEND", key("str"), value(rng, False)]
    if choice == 2:
        return ["INCRBY", key("cnt"), rng.randrange(-1000, 1000)]
    if choice == 3:
        return ["INCRBYFLOAT", key("flt"), f"{rng.uniform(-10, 10):.3f}"]
    if choice == 4:
        return ["SETRANGE", key("str"), rng.randrange(64), value(rng, False)]
    if choice == 5:
        return ["MSET", key("str"), value(rng, big), key("str"), value(rng, False)]
    if choice == 6:
        return ["SETBIT", key("bit"), rng.randrange(65536), rng.randrange(2)]
    if choice == 7:
        return ["BITOP", rng.choice(["AND", "OR", "XOR"]), key("bit"), key("bit"), key("bit")]
    if choice == 8:
        return ["BITFIELD", key("bit"), "SET", "u8", f"#{rng.randrange(100)}", rng.randrange(256),
                "INCRBY", "i16", rng.randrange(2000), rng.randrange(-50, 50)]
    if choice == 9:
        return ["RPUSH", key("list"), *(value(rng, big) for _ in range(rng.randrange(1, 5)))]
    if choice == 10:
        return ["LPUSH", key("list"), *(value(rng, False) for _ in range(rng.randrange(1, 5)))]
    if choice == 11:
        return [rng.choice(["LPOP", "RPOP"]), key("list"), rng.randrange(1, 4)]
    if choice == 12:
        return ["LTRIM", key("list"), 0, 199]
    if choice == 13:
        return ["LMOVE", key("list"), key("list"), rng.choice(["LEFT", "RIGHT"]),
                rng.choice(["LEFT", "RIGHT"])]
    if choice == 14:
        return ["LREM", key("list"), 0, value(rng, False)]
    if choice == 15:
        return ["HSET", key("hash"), *sum(([f"f{rng.randrange(100)}", value(rng, big)]
                                           for _ in range(rng.randrange(1, 4))), [])]
    if choice == 16:
        return ["HINCRBY", key("hash"), "n", rng.randrange(-100, 100)]
    if choice == 17:
        return ["HDEL", key("hash"), *(f"f{rng.randrange(100)}" for _ in range(3))]
    if choice == 18:
        return ["SADD", key("set"), *(member(500) for _ in range(rng.randrange(1, 8)))]
    if choice == 19:
        return ["SREM", key("set"), *(member(500) for _ in range(3))]
    if choice == 20:
        return [rng.choice(["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"]), key("set"),
                key("set"), key("set")]
    if choice == 21:
        return ["SMOVE", key("set"), key("set"), member(500)]
    if choice == 22:
        return ["ZADD", key("zset"), *sum(([rng.randrange(1000), member(300)]
                                           for _ in range(rng.randrange(1, 5))), [])]
    if choice == 23:
        return ["ZINCRBY", key("zset"), rng.randrange(-5, 5), member(300)]
    if choice == 24:
        return ["ZREMRANGEBYRANK", key("zset"), 0, -201]
    if choice == 25:
        return ["ZUNIONSTORE", key("zset"), 2, key("zset"), key("zset"), "WEIGHTS", 1, 0.5,
                "AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])]
    if choice == 26:
        return [rng.choice(["ZPOPMIN", "ZPOPMAX"]), key("zset"), rng.randrange(1, 3)]
    if choice == 27:
        return ["PFADD", key("hll"), *(member(100000) for _ in range(rng.randrange(1, 10)))]
    if choice == 28:
        return ["PFMERGE", key("hll"), key("hll"), key("hll")]
    if choice == 29:
        return ["GEOADD", key("geo"), f"{rng.uniform(-170, 170):.5f}",
                f"{rng.uniform(-80, 80):.5f}", member(200)]
    if choice == 30:
        return ["GEOSEARCHSTORE", key("geo"), key("geo"), "FROMLONLAT",
                f"{rng.uniform(-170, 170):.3f}", f"{rng.uniform(-80, 80):.3f}", "BYRADIUS",
                rng.choice([500, 2000, 8000]), "km", "ASC", "COUNT", 50, *(
                    ["STOREDIST"] if rng.random() < 0.5 else [])]
    if choice == 31:
        return [rng.choice(["DEL", "UNLINK"]), key(rng.choice(
            ["str", "list", "hash", "set", "zset", "hll", "geo", "bit", "cnt"]))]
    if choice == 32:
        source, target = key("hash"), key("hash")
        return ["COPY", source, target if target != source else f"{target}:copy", "REPLACE"]
    return ["GETDEL", key("str")]


def chaos_batch(rng, key):
    """A pipeline for database 0: writes each followed by a TTL on the key they touched."""
    cmds = []
    for _ in range(rng.randrange(2, 12)):
        r = rng.random()
        if r < 0.04:
            cmds.append(["EVAL", LUA_CHAOS, 2, key("cnt"), key("list"), rng.randrange(9),
                         value(rng, False)])
        elif r < 0.08:
            s = key("stream")
            cmds += [["XADD", s, "MAXLEN", "~", 100, "*", "f", value(rng, True)],
                     ["XGROUP", "CREATE", s, "g", "0", "MKSTREAM"],
                     ["XREADGROUP", "GROUP", "g", f"c{rng.randrange(3)}", "COUNT", 3,
                      "STREAMS", s, ">"],
                     ["XAUTOCLAIM", s, "g", "c9", 0, "0-0", "COUNT", 2]]
        elif r < 0.10:
            cmds.append([rng.choice(["SPOP", "SRANDMEMBER"]), key("set"), rng.randrange(1, 3)])
        elif r < 0.11:
            cmds.append(["HRANDFIELD", key("hash"), 2, "WITHVALUES"])
        elif r < 0.13:
            cmds.append(["SET", key("str"), value(rng, True), "PX",
                         rng.randrange(*SHORT_TTL_MS)])
            continue
        elif r < 0.14:
            cmds.append(["PERSIST", key("str")])
        else:
            cmds.append(gen_common(rng, key, big=True))
        for name in touched_keys(cmds[-1]):
            ttl = rng.randrange(*(SHORT_TTL_MS if rng.random() < 0.2 else LONG_TTL_MS))
            cmds.append(["PEXPIRE", name, ttl])
    return cmds


def touched_keys(cmd):
    """The keys a generated write may create, so each gets a TTL (volatile, hence evictable)."""
    name = cmd[0]
    if name == "MSET":
        return cmd[1::2]
    if name == "BITOP":
        return [cmd[2]]
    if name in ("LMOVE", "SMOVE", "COPY"):
        return [cmd[1], cmd[2]]
    if name == "EVAL":
        return cmd[3:5]
    if name == "GETDEL":
        return []
    return [cmd[1]]


def shadow_batch(rng, key, stream_ids, groups):
    """A pipeline for database 1: deterministic commands only (explicit stream ids, no TTL)."""
    cmds = []
    for _ in range(rng.randrange(2, 12)):
        r = rng.random()
        if r < 0.04:
            cmds.append(["EVAL", LUA_SHADOW, 2, key("hash"), key("zset"), value(rng, False)])
        elif r < 0.10:
            s = key("stream")
            stream_ids[s] = stream_ids.get(s, 0) + rng.randrange(1, 5)
            cmds.append(["XADD", s, "MAXLEN", 100, f"{stream_ids[s]}-1", "f", value(rng, True)])
            if s not in groups:
                groups.add(s)
                cmds.append(["XGROUP", "CREATE", s, "g", "0"])
            cmds += [["XREADGROUP", "GROUP", "g", f"c{rng.randrange(3)}", "COUNT", 3, "STREAMS",
                      s, ">"],
                     ["XACK", s, "g", f"{max(1, stream_ids[s] - rng.randrange(8))}-1"],
                     ["XLEN", s]]
        elif r < 0.12:
            cmds.append(["RENAME", key("list"), key("list")])
        elif r < 0.20:
            kind = rng.choice(["list", "hash", "set", "zset", "str", "hll", "geo", "bit"])
            read = {"list": ["LRANGE", 0, 20], "hash": ["HGETALL"], "set": ["SMEMBERS"],
                    "zset": ["ZRANGE", 0, -1, "WITHSCORES"], "str": ["GET"], "hll": ["PFCOUNT"],
                    "geo": ["GEOPOS", "m1", "m2"], "bit": ["BITCOUNT"]}[kind]
            cmds.append([read[0], key(kind), *read[1:]])
        else:
            cmds.append(gen_common(rng, key, big=False))
    return cmds


def connect(port, db, protocol):
    client = redis.Redis(port=port, db=db, protocol=protocol, socket_timeout=60)
    client.ping()
    return client


def run_pipeline(client, cmds, transaction):
    pipe = client.pipeline(transaction=transaction)
    for cmd in cmds:
        pipe.execute_command(*cmd)
    return pipe.execute(raise_on_error=False)


def normalise(reply):
    if isinstance(reply, Exception):
        return ("error", str(reply))
    if isinstance(reply, (list, tuple)):
        return [normalise(r) for r in reply]
    if isinstance(reply, dict):
        return {str(normalise(k)): normalise(v) for k, v in reply.items()}
    return reply


def chaos_worker(index, args, port, stop, tally):
    rng = random.Random(f"{args.seed}:chaos:{index}")
    key = Keys(rng, f"c{index}", args.keys_per_type)
    client, left = None, 0
    while not stop.is_set():
        if left == 0:
            if client:
                client.close()
            client = connect(port, 0, rng.choice([2, 3]))
            left = rng.randrange(50, 500)
            tally.add(connections=1)
        left -= 1
        cmds = chaos_batch(rng, key)
        try:
            replies = run_pipeline(client, cmds, transaction=rng.random() < 0.1)
        except redis.exceptions.ResponseError as err:  # an EXECABORT or similar
            replies = [err]
        except redis.exceptions.ConnectionError as err:
            tally.problem(f"chaos {index}: connection lost: {err}")
            tally.add(errors=1)
            left = 0
            continue
        for cmd, reply in zip(cmds, replies):
            if isinstance(reply, Exception):
                if str(reply).startswith(EXPECTED_CHAOS_ERRORS):
                    tally.add(expected_errors=1)
                else:
                    tally.add(errors=1)
                    tally.problem(f"chaos {index}: {cmd[:4]} -> {reply}")
        tally.add(batches=1, commands=len(cmds))


def shadow_worker(index, args, lite_port, shadow_port, stop, tally):
    rng = random.Random(f"{args.seed}:shadow:{index}")
    key = Keys(rng, f"s{index}", args.shadow_keys_per_type)
    stream_ids, groups = {}, set()
    lite = shadow = None
    left = 0
    while not stop.is_set():
        if left == 0:
            if lite:
                lite.close()
                shadow.close()
            protocol = rng.choice([2, 3])
            lite, shadow = connect(lite_port, 1, protocol), connect(shadow_port, 1, protocol)
            left = rng.randrange(50, 500)
            tally.add(connections=1)
        left -= 1
        cmds = shadow_batch(rng, key, stream_ids, groups)
        transaction = rng.random() < 0.1
        try:
            got = normalise(run_pipeline(lite, cmds, transaction))
        except redis.exceptions.ConnectionError as err:
            tally.problem(f"shadow {index}: connection lost: {err}")
            tally.add(errors=1)
            return
        except redis.exceptions.ResponseError as err:
            got = ("raised", str(err))
        try:
            want = normalise(run_pipeline(shadow, cmds, transaction))
        except redis.exceptions.ResponseError as err:
            want = ("raised", str(err))
        if got != want:
            tally.add(mismatches=1)
            for cmd, g, w in zip(cmds, got, want):
                if g != w:
                    tally.problem(f"shadow {index}: {cmd[:6]}: lite {str(g)[:200]} "
                                  f"redis {str(w)[:200]}")
                    break
        tally.add(batches=1, commands=len(cmds))


def churn_worker(args, port, stop, tally):
    """Short-lived connections: connect, name, a read, a publish, a subscribe, disconnect."""
    rng = random.Random(f"{args.seed}:churn")
    while not stop.is_set():
        try:
            client = connect(port, rng.randrange(2), rng.choice([2, 3]))
            client.client_setname(f"churn{rng.randrange(1000)}")
            client.get(f"c0:str:{rng.randrange(args.keys_per_type)}")
            client.publish("soak", "x")
            pubsub = client.pubsub()
            pubsub.subscribe("soak")
            pubsub.get_message(timeout=0.01)
            pubsub.close()
            client.close()
            tally.add(connections=1, commands=5)
        except redis.exceptions.RedisError as err:
            tally.add(errors=1)
            tally.problem(f"churn: {err}")
        stop.wait(0.05)


def persistence_info(client):
    return client.info("persistence")


def maintenance_worker(args, port, stop, tally, events):
    """BGSAVE and BGREWRITEAOF alternately every `--maintenance-every` seconds, each awaited
    and its status checked; the eviction policy rotated at each step."""
    client = redis.Redis(port=port, socket_timeout=120)
    step = 0
    while not stop.wait(args.maintenance_every):
        client.config_set("maxmemory-policy", POLICIES[step % len(POLICIES)])
        job = ["BGSAVE", "BGREWRITEAOF"][step % 2]
        step += 1
        while any(persistence_info(client)[f] for f in ("rdb_bgsave_in_progress",
                                                           "aof_rewrite_in_progress")):
            time.sleep(0.2)
        started = time.time()
        try:
            client.execute_command(job)
        except redis.exceptions.ResponseError as err:
            tally.add(errors=1)
            tally.problem(f"{job}: {err}")
            continue
        flag = "rdb_bgsave_in_progress" if job == "BGSAVE" else "aof_rewrite_in_progress"
        while True:
            time.sleep(0.2)
            info = persistence_info(client)
            if not info[flag] and not info.get("aof_rewrite_scheduled", 0):
                break
        status = info["rdb_last_bgsave_status" if job == "BGSAVE" else "aof_last_bgrewrite_status"]
        events.append({"t": started, "job": job, "seconds": round(time.time() - started, 2),
                       "status": status, "policy": POLICIES[(step - 1) % len(POLICIES)]})
        print(f"{time.strftime('%H:%M:%S')} {job} {status} in {time.time() - started:.1f}s",
              flush=True)
        if status != "ok":
            tally.add(errors=1)
            tally.problem(f"{job} status {status}")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def sampler(pid, port, stop, out_path, t0):
    client = redis.Redis(port=port, socket_timeout=60)
    fields = ["t", "rss", "used_memory", "keys_db0", "keys_db1", "volatile_keys", "evicted_keys",
              "expired_keys", "commands", "ops_per_sec", "clients", "load1",
              "mem_not_counted_for_evict", "mem_aof_buffer", "mem_clients_normal",
              "lazyfree_pending_objects", "snapshot_running"]
    last = None
    with open(out_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        while not stop.wait(max(0.0, 1.0 - (time.time() - t0) % 1.0)):
            now = time.time()
            info = {}
            for section in ("memory", "stats", "keyspace", "clients", "persistence"):
                info.update(client.info(section))
            db0, db1 = info.get("db0", {}), info.get("db1", {})
            commands = info["total_commands_processed"]
            rate = 0 if last is None else (commands - last[1]) / (now - last[0])
            last = (now, commands)
            with open("/proc/loadavg") as load:
                load1 = float(load.read().split()[0])
            writer.writerow([round(now - t0, 2), rss_bytes(pid), info["used_memory"],
                             db0.get("keys", 0), db1.get("keys", 0),
                             db0.get("expires", 0) + db1.get("expires", 0),
                             info["evicted_keys"], info["expired_keys"], commands, round(rate),
                             info["connected_clients"], load1,
                             *(info.get(name, 0) for name in fields[-5:-1]),
                             int(bool(info["rdb_bgsave_in_progress"]
                                      or info["aof_rewrite_in_progress"]))])
            f.flush()


def digest(port):
    return redis.Redis(port=port).execute_command("DEBUG", "DIGEST").decode()


def key_digests(port, dbs=(0, 1)):
    """Every key's DEBUG DIGEST-VALUE and absolute expiry, to name the keys behind a digest
    difference."""
    found = {}
    for db in dbs:
        client = redis.Redis(port=port, db=db)
        keys = list(client.scan_iter(count=1000))
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.execute_command("DEBUG", "DIGEST-VALUE", key)
                pipe.execute_command("PEXPIRETIME", key)
            replies = pipe.execute()
            for i, key in enumerate(chunk):
                found[(db, key)] = (replies[2 * i], replies[2 * i + 1])
    return found


def differing_keys(left, right, per_kind=3):
    """The keys whose digest or expiry differ, a few of each type tag (`c0:hll:7` -> hll)."""
    shown = {}
    for db, key in sorted(set(left) | set(right)):
        if left.get((db, key)) != right.get((db, key)):
            kind = key.split(b":")[1].decode()
            shown.setdefault(kind, [])
            if len(shown[kind]) < per_kind:
                shown[kind].append(f"db{db} {key!r}: {left.get((db, key))} vs "
                                   f"{right.get((db, key))}")
    return [line for lines in shown.values() for line in lines]


def expire_everything_due(port):
    """SCAN every key of both databases: keys whose TTL passed are deleted (and journaled)."""
    for db in (0, 1):
        client = redis.Redis(port=port, db=db)
        for _ in client.scan_iter(count=1000):
            pass


def rss_verdict(out_path):
    with open(out_path) as f:
        rows = list(csv.DictReader(f))
    rss = [int(r["rss"]) for r in rows]
    third = len(rss) // 3
    # Keys evicted within one second, as a share of database 0 the second before: a burst
    # shows eviction running far past the limit (keys evicted that free nothing).
    bursts = [(int(b["evicted_keys"]) - int(a["evicted_keys"])) / max(1, int(a["keys_db0"]))
              for a, b in zip(rows, rows[1:])]
    middle, last = max(rss[third:2 * third]), max(rss[2 * third:])
    return {"rss_start": rss[0], "rss_end": rss[-1], "rss_peak": max(rss),
            "rss_peak_middle_third": middle, "rss_peak_last_third": last,
            "rss_flat": last <= middle * 1.10,
            "used_memory_end": int(rows[-1]["used_memory"]),
            "keys_end": int(rows[-1]["keys_db0"]) + int(rows[-1]["keys_db1"]),
            "evicted_keys": int(rows[-1]["evicted_keys"]),
            "largest_eviction_second_share": round(max(bursts, default=0), 3),
            "seconds_evicting_over_half_of_db0": sum(share > 0.5 for share in bursts),
            "expired_keys": int(rows[-1]["expired_keys"]),
            "load1_median": sorted(float(r["load1"]) for r in rows)[len(rows) // 2]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds of workload")
    parser.add_argument("--seed", default="21")
    parser.add_argument("--chaos-workers", type=int, default=4)
    parser.add_argument("--shadow-workers", type=int, default=2)
    parser.add_argument("--keys-per-type", type=int, default=4000)
    parser.add_argument("--shadow-keys-per-type", type=int, default=100,
                        help="database 1 is never evicted: it must fit well under maxmemory")
    parser.add_argument("--maxmemory", default="100mb")
    parser.add_argument("--maintenance-every", type=float, default=100,
                        help="seconds between BGSAVE/BGREWRITEAOF steps")
    parser.add_argument("--server", default=LITE)
    parser.add_argument("--out", required=True, help="directory for samples.csv, summary.json")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # The servers' directories (the AOF is hundreds of MB): kept only when the run fails.
    scratch = tempfile.mkdtemp(prefix="soak-")
    lite_dir, shadow_dir, replay_dir = (os.path.join(scratch, n) for n in ("lite", "shadow",
                                                                            "replay"))
    for d in (lite_dir, shadow_dir, replay_dir):
        os.makedirs(d)
    lite_args = ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory", args.maxmemory,
                 "--maxmemory-policy", POLICIES[0]]
    lite, lite_port = start_server(args.server, lite_dir, lite_args)
    shadow, shadow_port = start_server("redis-server", shadow_dir, ["--appendonly", "no"])
    tally, stop, events = Tally(), threading.Event(), []
    t0 = time.time()
    samples = os.path.join(args.out, "samples.csv")
    threads = [threading.Thread(target=sampler, args=(lite.pid, lite_port, stop, samples, t0)),
               threading.Thread(target=maintenance_worker,
                                args=(args, lite_port, stop, tally, events)),
               threading.Thread(target=churn_worker, args=(args, lite_port, stop, tally))]
    threads += [threading.Thread(target=chaos_worker, args=(i, args, lite_port, stop, tally))
                for i in range(args.chaos_workers)]
    threads += [threading.Thread(target=shadow_worker,
                                 args=(i, args, lite_port, shadow_port, stop, tally))
                for i in range(args.shadow_workers)]
    for t in threads:
        t.start()
    while time.time() - t0 < args.duration and lite.poll() is None:
        time.sleep(min(10.0, max(0.0, args.duration - (time.time() - t0))))
        print(f"{time.strftime('%H:%M:%S')} {round(time.time() - t0)}s {tally.counts}", flush=True)
    stop.set()
    for t in threads:
        t.join()
    if lite.poll() is not None:
        raise SystemExit(f"redis-lite exited with {lite.returncode}; see {lite_dir}/server.log")

    # Every short TTL has passed after this wait; the SCAN deletes what active expiry left.
    time.sleep(SHORT_TTL_MS[1] / 1000 + 2)
    expire_everything_due(lite_port)
    final = persistence_info(redis.Redis(port=lite_port))
    lite_digest = digest(lite_port)
    lite_keys = key_digests(lite_port)
    stop_server(lite, lite_port)
    shutil.copytree(os.path.join(lite_dir, "appendonlydir"),
                    os.path.join(replay_dir, "appendonlydir"))
    replay, replay_port = start_server("redis-server", replay_dir, ["--appendonly", "yes"])
    replay_digest = digest(replay_port)
    replay_keys = key_digests(replay_port)
    relite, relite_port = start_server(args.server, lite_dir, lite_args)
    relite_digest = digest(relite_port)
    stop_server(relite, relite_port)
    replay_client = redis.Redis(port=replay_port)
    replay_client.select(0)
    replay_client.flushdb()
    replay_db1_digest = digest(replay_port)
    shadow_digest = digest(shadow_port)
    shadow_keys = key_digests(shadow_port, dbs=(1,))
    stop_server(replay, replay_port)
    stop_server(shadow, shadow_port)
    with open(os.path.join(lite_dir, "server.log"), errors="replace") as log:
        panics = sum("panic" in line for line in log)

    summary = {"command": " ".join(sys.argv), "seed": args.seed, "duration_s": args.duration,
               "started_at": t0,
               "maxmemory": args.maxmemory, **tally.counts,
               "problems": tally.problems[:50], "maintenance": events, "panics_in_log": panics,
               "aof_last_bgrewrite_status": final["aof_last_bgrewrite_status"],
               "rdb_last_bgsave_status": final["rdb_last_bgsave_status"],
               "aof_last_write_status": final["aof_last_write_status"],
               "lite_digest": lite_digest, "redis_replay_of_lite_aof_digest": replay_digest,
               "lite_restart_digest": relite_digest, "db1_digest_replay": replay_db1_digest,
               "db1_digest_shadow_redis": shadow_digest, **rss_verdict(samples)}
    summary["digests_equal"] = lite_digest == replay_digest == relite_digest
    summary["shadow_equal"] = replay_db1_digest == shadow_digest
    summary["keys_lite_vs_replay"] = differing_keys(lite_keys, replay_keys)
    summary["keys_db1_replay_vs_shadow"] = differing_keys(
        {k: v for k, v in replay_keys.items() if k[0] == 1}, shadow_keys)
    summary["pass"] = (summary["digests_equal"] and summary["shadow_equal"]
                       and summary["rss_flat"] and not summary["errors"]
                       and not summary["mismatches"] and not panics
                       and all(e["status"] == "ok" for e in events))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("problems", "maintenance")},
                     indent=1))
    if summary["pass"]:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"FAILED; the servers' files are in {scratch}")
    sys.exit(0 if summary["pass"] else 1)


if __name__ == "__main__":
    main()
