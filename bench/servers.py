"""Starting real Redis and redis-lite side by side for the Python bench scripts: each server
on a free loopback port in a scratch directory, with nothing saved unless asked."""
import os, shutil, socket, subprocess, tempfile, time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# REDIS_LITE_SERVER names another build (a worktree without its own release build).
LITE = os.environ.get("REDIS_LITE_SERVER",
                      os.path.join(ROOT, "target", "release", "redis-lite-server"))


def encode(*args):
    """A command as a RESP2 array of bulk strings (arguments: bytes, or anything str() takes)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`kind` is "redis" or "lite"; `extra` are more `--directive value` arguments."""

    def __init__(self, kind, extra=()):
        self.kind = kind
        self.workdir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
        self.port = free_port()
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.workdir, "--enable-debug-command", "yes",
                *extra]
        binary = "redis-server" if kind == "redis" else LITE
        self.proc = subprocess.Popen([binary, *args], cwd=self.workdir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                self.client.ping()
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"{kind} did not start")

    def cpu_seconds(self):
        """The server process's user + system CPU time so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
