#!/usr/bin/env python3
"""A job queue: one producer LPUSHes --items items one at a time (each after the previous reply,
as a client that wants to know its job was queued), while --consumers clients wait in BRPOP
and take them. Prints `pushes_per_s=<n> push_us_median=<n> push_us_p99=<n>`: the producer's
rate over the whole run and its LPUSH round trips. With consumers always waiting, each push
wakes one, which Redis serves before it replies to the push (redis-lite too: the pushing
connection waits for the woken client's re-run).

Usage: bench/blocking_queue.py PORT [--items 20000] [--consumers 4]
"""
import argparse, multiprocessing, socket, time

from servers import encode


def consume(port, ready, done):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = sock.makefile("rb")
    ready.release()
    while True:
        sock.sendall(encode(b"BRPOP", b"queue", b"0"))
        assert f.readline().startswith(b"*2")
        for _ in range(2):
            f.readline()
            item = f.readline()
        if item == b"stop\r\n":
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--consumers", type=int, default=4)
    args = parser.parse_args()
    ready, done = multiprocessing.Semaphore(0), multiprocessing.Event()
    consumers = [
        multiprocessing.Process(target=consume, args=(args.port, ready, done))
        for _ in range(args.consumers)
    ]
    for c in consumers:
        c.start()
    for _ in consumers:
        ready.acquire()
    sock = socket.create_connection(("127.0.0.1", args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = sock.makefile("rb")
    time.sleep(0.5)
    trips = []
    started = time.perf_counter()
    for i in range(args.items):
        sent = time.perf_counter()
        sock.sendall(encode(b"LPUSH", b"queue", b"job%d" % i))
        assert f.readline().startswith(b":")
        trips.append(time.perf_counter() - sent)
    elapsed = time.perf_counter() - started
    for _ in consumers:
        sock.sendall(encode(b"LPUSH", b"queue", b"stop"))
        f.readline()
    for c in consumers:
        c.join()
    trips.sort()
    median = trips[len(trips) // 2] * 1e6
    p99 = trips[int(len(trips) * 0.99)] * 1e6
    print(f"pushes_per_s={args.items / elapsed:.0f} push_us_median={median:.1f} push_us_p99={p99:.1f}")


if __name__ == "__main__":
    main()
