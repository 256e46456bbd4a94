"""redis-py over TLS with a client certificate (tls-auth-clients yes): SET, GET and a
pipeline succeed; without the certificate the connection is refused. Prints ok.

Usage: redis_py_tls.py PORT CA_FILE CERT_FILE KEY_FILE"""
import ssl
import sys

import redis

port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
tls = dict(host="localhost", port=port, ssl=True, ssl_ca_certs=ca, socket_timeout=5)

client = redis.Redis(ssl_certfile=cert, ssl_keyfile=key, **tls)
assert client.set("greeting", "hello") is True
assert client.get("greeting") == b"hello"
pipe = client.pipeline()
pipe.incr("counter").incr("counter").get("greeting").delete("greeting")
assert pipe.execute() == [1, 2, b"hello", 1]
# The pooled connection is an SSL socket whose peer certificate was checked against the CA
# (ssl_cert_reqs defaults to "required").
connection = client.connection_pool.get_connection()
assert isinstance(connection._sock, ssl.SSLSocket), type(connection._sock)
assert connection._sock.version() in ("TLSv1.2", "TLSv1.3"), connection._sock.version()
client.connection_pool.release(connection)

anonymous = redis.Redis(**tls)
try:
    anonymous.ping()
except (redis.exceptions.ConnectionError, OSError):
    pass
else:
    raise AssertionError("a client without a certificate was served")
print("ok")
