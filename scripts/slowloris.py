#!/usr/bin/env python3
"""Slowloris and descriptor exhaustion against the real binary, on loopback only.

Phase 1: CONNS connections (default 2000) each send a partial request head, then
nothing. Prints how many the server closed and when, and /healthz latency meanwhile.
Phase 2: the server runs with a descriptor limit of FD_LIMIT (prlimit) and no
connection cap; 2 x FD_LIMIT half-open connections exhaust its descriptors. Prints the
server's CPU use while accept fails, the log lines it wrote, and when /healthz answers
again after the header timeout frees descriptors.

Usage: python3 scripts/slowloris.py [--bin target/debug/videoapi] [--conns 2000]
Every loop is bounded in count and time; only processes started here are stopped.
"""

import argparse
import os
import resource
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

HOST = "127.0.0.1"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(binary, data, port, env_extra, prefix=()):
    env = dict(os.environ)
    env.update(
        {
            "VIDEOAPI_ADMIN_PASSWORD": "slowloris-admin-pw",
            "VIDEOAPI_LOG_FORMAT": "plain",
            "NO_COLOR": "1",
        }
    )
    env.update(env_extra)
    log = open(os.path.join(data, "server.log"), "w")
    cmd = list(prefix) + [binary, "--data-dir", data, "serve", "--listen", f"{HOST}:{port}"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if healthz(port, timeout=1) is not None:
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {open(log.name).read()}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def healthz(port, timeout=5.0):
    """Latency in ms of one GET /healthz on a new connection, or None on failure."""
    t = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=timeout) as r:
            r.read()
            if r.status != 200:
                return None
    except Exception:
        return None
    return (time.monotonic() - t) * 1000


class Poller(threading.Thread):
    """GET /healthz every 100 ms until stopped, recording latencies and failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.lat, self.failed, self.stop = port, [], 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            ms = healthz(self.port, timeout=5)
            if ms is None:
                self.failed += 1
            else:
                self.lat.append(ms)
            self.stop.wait(0.1)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def open_slow(port, n, connect_timeout=2.0):
    """Open up to n connections that send a partial head; returns the sockets."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(connect_timeout)
        try:
            s.connect((HOST, port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    return socks


def wait_closed(socks, limit_s):
    """Seconds (from now) at which the server closed each socket; None if still open."""
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    closed = [None] * len(socks)
    start = time.monotonic()
    left = len(socks)
    while left and time.monotonic() - start < limit_s:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed[key.data] = time.monotonic() - start
                sel.unregister(s)
                left -= 1
    for s in socks:
        s.close()
    return closed


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def phase1(binary, conns):
    data = tempfile.mkdtemp(prefix="slowloris-")
    port = free_port()
    proc = start_server(binary, data, port, {})
    try:
        poller = Poller(port)
        poller.start()
        t0 = time.monotonic()
        socks = open_slow(port, conns)
        opened = time.monotonic() - t0
        closed = wait_closed(socks, 40)
        poller.stop.set()
        poller.join()
        shut = [c + opened for c in closed if c is not None]
        print(f"phase 1: {len(socks)}/{conns} slow connections opened in {opened:.1f} s")
        print(
            f"  closed by the server: {len(shut)}/{len(socks)}; "
            f"last closed {max(shut, default=float('nan')):.1f} s after the first was opened "
            f"(median {pct(shut, 50):.1f} s); still open after 40 s: {len(socks) - len(shut)}"
        )
        print(
            f"  /healthz during the attack: {len(poller.lat)} ok, {poller.failed} failed; "
            f"p50 {pct(poller.lat, 50):.1f} ms, p99 {pct(poller.lat, 99):.1f} ms, "
            f"max {max(poller.lat, default=float('nan')):.1f} ms"
        )
    finally:
        stop_server(proc)
        shutil.rmtree(data, ignore_errors=True)


def phase2(binary, fd_limit):
    data = tempfile.mkdtemp(prefix="slowloris-fd-")
    port = free_port()
    env = {"VIDEOAPI_MAX_CONNECTIONS": "100000", "VIDEOAPI_HEADER_READ_TIMEOUT_SECS": "10"}
    proc = start_server(
        binary, data, port, env, prefix=("prlimit", f"--nofile={fd_limit}:{fd_limit}")
    )
    try:
        socks = open_slow(port, fd_limit * 2, connect_timeout=0.5)
        time.sleep(1)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(5)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        during = healthz(port, timeout=1)
        cpu = (c1 - c0) / (t1 - t0) * 100
        print(
            f"phase 2: fd limit {fd_limit}, {len(socks)} half-open connections; "
            f"server CPU while descriptors are exhausted: {cpu:.1f} % of one core (5 s window); "
            f"/healthz meanwhile: {'ok' if during else 'no answer (expected)'}"
        )
        t = time.monotonic()
        back = None
        while time.monotonic() - t < 60:
            if healthz(port, timeout=1) is not None:
                back = time.monotonic() - t
                break
            time.sleep(0.2)
        print(
            "  /healthz answers again "
            + (f"{back:.1f} s after the measurement" if back is not None else "NOT within 60 s")
        )
        for s in socks:
            s.close()
    finally:
        stop_server(proc)
        log = open(os.path.join(data, "server.log")).read().splitlines()
        lines = [l for l in log if "cannot accept" in l]
        print(f"  log lines about accept failures: {len(lines)}")
        if lines:
            print(f"  e.g. {lines[0][:200]}")
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/videoapi")
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--fd-limit", type=int, default=256)
    ap.add_argument("--skip-fd", action="store_true")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    phase1(a.bin, a.conns)
    if not a.skip_fd:
        phase2(a.bin, a.fd_limit)


if __name__ == "__main__":
    main()
