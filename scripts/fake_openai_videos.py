"""A fake OpenAI-Videos upstream that finishes every video at once: POST /v1/videos answers
`queued`, the first GET says `completed`, /content serves a few bytes. Loopback only.

    python3 scripts/fake_openai_videos.py PORT
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000
_lock = threading.Lock()
_n = [0]


def video(vid, status, model="fake-video"):
    return {
        "id": vid,
        "object": "video",
        "status": status,
        "progress": 100 if status == "completed" else 0,
        "model": model,
        "created_at": int(time.time()),
        "completed_at": int(time.time()) if status == "completed" else None,
        "seconds": "4",
        "size": "1280x720",
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle holds the body until the
    # client's delayed ACK (40 ms) on a kept-alive connection, which a real upstream never shows.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        if self.path.rstrip("/") != "/v1/videos":
            return self.send_json(404, {"error": {"message": "no route", "type": "invalid_request_error", "code": "not_found", "param": None}})
        with _lock:
            _n[0] += 1
            vid = f"video_{_n[0]:08d}"
        self.send_json(200, video(vid, "queued"))

    def do_GET(self):
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if len(parts) == 3 and parts[:2] == ["v1", "videos"]:
            return self.send_json(200, video(parts[2], "completed"))
        if len(parts) == 4 and parts[:2] == ["v1", "videos"] and parts[3] == "content":
            self.send_response(200)
            self.send_header("content-type", "video/mp4")
            self.send_header("content-length", str(len(VIDEO)))
            self.end_headers()
            self.wfile.write(VIDEO)
            return
        self.send_json(404, {"error": {"message": "no route", "type": "invalid_request_error", "code": "not_found", "param": None}})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
