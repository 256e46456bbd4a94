"""redis-py's RedisCluster through a failover: started on the node at port argv[1], it writes and
reads keys until the file argv[2] appears, riding out the errors of a failing master (connection
errors, CLUSTERDOWN, MOVED to a promoted replica), then must write and read 100 keys without an
error it cannot retry past. Prints how many operations succeeded and failed; exits non-zero
when the client did not recover."""
import os
import sys
import time

import redis
from redis.cluster import RedisCluster

port, stop_file = int(sys.argv[1]), sys.argv[2]
client = RedisCluster(host="127.0.0.1", port=port, decode_responses=True)

ok = failed = 0
i = 0
while not os.path.exists(stop_file):
    key = f"py:{i}"
    try:
        client.set(key, i)
        assert client.get(key) == str(i), f"{key} read back wrong"
        ok += 1
    except (redis.exceptions.ConnectionError, redis.exceptions.ClusterDownError,
            redis.exceptions.TimeoutError, redis.exceptions.ClusterError,
            redis.exceptions.TryAgainError, redis.exceptions.MovedError):
        failed += 1
        time.sleep(0.1)
    i += 1

# After the failover: every write and read goes through, retried at most for a while.
deadline = time.time() + 30
for j in range(100):
    key = f"after:{j}"
    while True:
        try:
            client.set(key, j)
            assert client.get(key) == str(j), f"{key} read back wrong"
            break
        except redis.exceptions.RedisError as e:
            if time.time() > deadline:
                print(f"not recovered: {key}: {e!r}", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.2)
print(f"ok={ok} failed={failed}")
