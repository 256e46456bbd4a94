"""redis-py's RedisCluster against the cluster whose node listens on port argv[1]: one key in
every hash slot written and read back through a cluster pipeline; then "written" on stdout and,
once the test has moved slots between nodes, a line "moved SLOT..." on stdin: the keys of the
moved slots are read one by one (the client's slot map is stale: -MOVED) and rewritten, and
every key is read again. Prints "ok"; exits non-zero, with the failing step, otherwise."""
import sys

from redis.cluster import RedisCluster
from redis.crc import key_slot

SLOTS = 16384

# The first key of the form "key:N" in each slot.
keys = {}
n = 0
while len(keys) < SLOTS:
    key = f"key:{n}"
    keys.setdefault(key_slot(key.encode()), key)
    n += 1

rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True)


def check_all(suffix):
    pipe = rc.pipeline()
    for slot in range(SLOTS):
        pipe.get(keys[slot])
    values = pipe.execute()
    for slot, value in enumerate(values):
        expected = f"{keys[slot]}{suffix.get(slot, '')}"
        assert value == expected, f"slot {slot}: {value!r} != {expected!r}"


pipe = rc.pipeline()
for slot in range(SLOTS):
    pipe.set(keys[slot], keys[slot])
assert all(pipe.execute())
check_all({})
print("written", flush=True)

moved = [int(slot) for slot in sys.stdin.readline().split()[1:]]
assert moved, "the test names the slots it moved"
for slot in moved:
    assert rc.get(keys[slot]) == keys[slot], f"slot {slot} after the move"
    assert rc.set(keys[slot], keys[slot] + "+")
    assert rc.get(keys[slot]) == keys[slot] + "+"
check_all({slot: "+" for slot in moved})
print("ok")
