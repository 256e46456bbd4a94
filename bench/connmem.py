#!/usr/bin/env python3
"""bench/connmem.py - server memory per connection, side by side.

For each server: RSS and INFO used_memory before, with N idle connections, after each of them
sent one PING, and a few seconds after they all closed.

Usage: bench/connmem.py [--conns N] LABEL=COMMAND ...   (COMMAND with {port}, started as is)
"""
import argparse, os, shlex, socket, subprocess, time

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def used_memory(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"INFO memory\r\n")
    data = b""
    while b"used_memory:" not in data or not data.endswith(b"\r\n"):
        data += s.recv(65536)
    s.close()
    for line in data.decode().splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def measure(label, command, conns):
    port = free_port()
    proc = subprocess.Popen(shlex.split(command.replace("{port}", str(port))),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError:
            time.sleep(0.05)
    time.sleep(0.5)
    rows = [("start", rss_kb(proc.pid), used_memory(port))]
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    time.sleep(1)
    rows.append(("idle", rss_kb(proc.pid), used_memory(port)))
    for s in socks:
        s.sendall(b"PING\r\n")
    for s in socks:
        assert s.recv(16) == b"+PONG\r\n"
    time.sleep(1)
    rows.append(("after PING", rss_kb(proc.pid), used_memory(port)))
    for s in socks:
        s.close()
    time.sleep(15)
    rows.append(("15 s after close", rss_kb(proc.pid), used_memory(port)))
    proc.terminate(); proc.wait()
    base_rss, base_used = rows[0][1], rows[0][2]
    for name, rss, used in rows:
        per = "" if name == "start" or name.endswith("close") else \
            f"  {(rss - base_rss) * 1024 / conns:7.0f} B RSS/conn  {(used - base_used) / conns:7.0f} B used/conn"
        print(f"{label:10} {name:17} rss {rss / 1024:8.1f} MB  used_memory {used / 1048576:8.1f} MB{per}")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("servers", nargs="+")
    a = ap.parse_args()
    for spec in a.servers:
        label, command = spec.split("=", 1)
        measure(label, command, a.conns)
