"""LiteLLM with VideoApi as its OpenAI upstream (`openai/<model>` + api_base): create,
poll, fetch the content, list and a failed video, through LiteLLM's own video functions.

Env: VIDEOAPI_BASE, VIDEOAPI_KEY. LITELLM_LOCAL_MODEL_COST_MAP=True keeps LiteLLM from
fetching its price list (the tests reach no host but the loopback server).
Prints one line per check and a closing "N passed, M failed".
"""

import base64
import json
import os
import sys
import time
import traceback
import urllib.request

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

BASE = os.environ["VIDEOAPI_BASE"]
KEY = os.environ["VIDEOAPI_KEY"]
UPSTREAM = {"api_base": f"{BASE}/v1", "api_key": KEY}
TEXT_MODEL = "openai/video-2.0-mini-text-to-video"


def api(path):
    req = urllib.request.Request(f"{BASE}{path}", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def wait(video_id):
    deadline = time.time() + 20
    while True:
        v = litellm.video_status(video_id=video_id, **UPSTREAM)
        if v.status in ("completed", "failed"):
            return v
        assert time.time() < deadline, f"timed out: {v}"
        time.sleep(0.1)


def our_id(litellm_id):
    """The VideoApi task id inside LiteLLM's id (LiteLLM wraps it with its routing as
    base64 of `litellm:...;video_id:<id>`)."""
    if litellm_id.startswith("vidgen_"):
        return litellm_id
    raw = base64.urlsafe_b64decode(litellm_id.removeprefix("video_") + "==").decode()
    return raw.split("video_id:", 1)[1].split(";", 1)[0]


def test_create_poll_and_fetch_through_litellm():
    before = api("/v1/account")["credits"]
    v = litellm.video_generation(
        model=TEXT_MODEL, prompt="a kite over a beach", seconds="5", size="1280x720", **UPSTREAM
    )
    assert v.status == "queued", v
    done = wait(v.id)
    assert done.status == "completed" and done.progress == 100, done
    content = litellm.video_content(video_id=v.id, **UPSTREAM)
    task = api(f"/v1/video/generations/{our_id(v.id)}")
    with urllib.request.urlopen(task["url"], timeout=10) as r:
        assert content == r.read()
    assert api("/v1/account")["credits"] == before - 100


def test_a_failed_video_through_litellm_is_refunded():
    before = api("/v1/account")["credits"]
    v = litellm.video_generation(model=TEXT_MODEL, prompt="demo:fail", **UPSTREAM)
    done = wait(v.id)
    assert done.status == "failed", done
    assert api("/v1/account")["credits"] == before


def test_the_litellm_proxy_serves_videos_from_videoapi():
    """LiteLLM's own server (`litellm --config`, VideoApi as the `openai/` upstream), driven
    by the official SDK: /v1/videos on LiteLLM → /v1/videos here."""
    proxy = os.environ.get("LITELLM_PROXY")
    if not proxy:
        raise AssertionError("LITELLM_PROXY is not set (run.sh starts the proxy)")
    import warnings

    from openai import OpenAI

    warnings.simplefilter("ignore", DeprecationWarning)
    c = OpenAI(base_url=f"{proxy}/v1", api_key=os.environ["LITELLM_MASTER_KEY"], max_retries=0)
    v = c.videos.create(
        model="video-2.0-mini-text-to-video", prompt="a kite via litellm", seconds="5", size="1280x720"
    )
    assert v.status == "queued", v
    deadline = time.time() + 30
    while v.status in ("queued", "in_progress"):
        assert time.time() < deadline, v
        time.sleep(0.2)
        v = c.videos.retrieve(v.id)
    assert v.status == "completed" and v.progress == 100, v
    content = c.videos.download_content(v.id).content
    task = api(f"/v1/video/generations/{our_id(v.id)}")
    with urllib.request.urlopen(task["url"], timeout=10) as r:
        assert content == r.read()


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            passed += 1
            print(f"ok   {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"python-litellm: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
