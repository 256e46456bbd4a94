"""redis-py's client-side cache (RESP3, cache_config): reads are served from the cache until
another connection's write invalidates the key. Prints ok."""
import sys
import time

import redis
from redis.cache import CacheConfig

# redis-py enables its cache only for servers that say 7.4 or later, a policy rather than a
# need: what it uses (CLIENT TRACKING ON, RESP3 invalidate pushes) is Redis 6's, so the check
# is lowered to the 7.0 both servers report.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"

port = int(sys.argv[1])
cached = redis.Redis(port=port, protocol=3, cache_config=CacheConfig())
writer = redis.Redis(port=port)
writer.set("greeting", "hello")
assert cached.get("greeting") == b"hello"
cache = cached.get_cache()
assert cache.size == 1, cache.size
# Served from the cache: no command reaches the server.
before = writer.info("stats")["total_commands_processed"]
assert cached.get("greeting") == b"hello"
after = writer.info("stats")["total_commands_processed"]
assert after == before + 1, (before, after)  # the INFO itself
writer.set("greeting", "bye")
# redis-py reads the invalidation when the connection is next used.
deadline = time.time() + 10
while cached.get("greeting") != b"bye":
    assert time.time() < deadline, "the cached value was never invalidated"
    time.sleep(0.05)
cached.flushall()
assert cached.get("greeting") is None
print("ok")
