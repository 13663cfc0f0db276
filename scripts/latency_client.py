"""Create-to-terminal latency through an OpenAI Videos endpoint: create a video, poll it
every POLL seconds until completed or failed, N times in a row; print p50 / p90 / max.

    python3 scripts/latency_client.py NAME BASE_URL KEY MODEL [N] [POLL]
"""

import json
import sys
import time
import urllib.error
import urllib.request


def call(method, url, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {url}: {e.code} {e.read().decode(errors='replace')}")


def main():
    name, base, key, model = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 30
    poll = float(sys.argv[6]) if len(sys.argv) > 6 else 0.05
    times = []
    for i in range(n):
        t0 = time.monotonic()
        v = call("POST", f"{base}/v1/videos", key, {"model": model, "prompt": f"latency {i}", "seconds": "4", "size": "1280x720"})
        deadline = t0 + 30
        while v.get("status") not in ("completed", "failed"):
            assert time.monotonic() < deadline, f"{name}: timed out: {v}"
            time.sleep(poll)
            v = call("GET", f"{base}/v1/videos/{v['id']}", key)
        assert v["status"] == "completed", f"{name}: {v}"
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(len(times) * p))]
    print(f"{name:<9} create-to-completed over {n}: p50 {pct(0.5):.0f} ms  p90 {pct(0.9):.0f} ms  max {times[-1]:.0f} ms  (client polls every {poll * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
