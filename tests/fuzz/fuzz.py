"""API fuzz and generated-client check against a live server (started by run.sh).

Three schemathesis runs, each with a fixed seed, a fixed number of examples per operation
and a time budget: the public API with a key, the console as a customer, the operator API
as an operator. Then a client generated from the committed spec with openapi-python-client
creates a task and reads it back. Exits non-zero on any failure.
"""

import importlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

BASE = os.environ["FUZZ_BASE"]
KEY = os.environ["FUZZ_KEY"]
WORK = os.environ["FUZZ_WORK"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.environ.get("FUZZ_SEED", "20261201")
EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "20")
# Per run; schemathesis stops earlier once every operation had its examples.
TIMEOUT = int(os.environ.get("FUZZ_TIMEOUT", "150"))
# What must hold: no 5xx, and every answer is one the spec declares, in the declared shape
# and content type.
CHECKS = os.environ.get(
    "FUZZ_CHECKS",
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance",
)
# Browsers send these; the console refuses state-changing calls without them.
CONSOLE_HEADERS = {"X-Requested-With": "videoapi", "Origin": BASE}


def login(username, password):
    """A console session cookie for the user."""
    req = urllib.request.Request(
        BASE + "/console/api/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", **CONSOLE_HEADERS},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
    return cookie


def schemathesis(name, include, exclude, headers):
    args = [
        "schemathesis",
        "run",
        BASE + "/openapi.json",
        "--url",
        BASE,
        "--include-path-regex",
        include,
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        # One worker: with two, CPython 3.11's `ast` (used by hypothesis while drawing the
        # free-form `settings` objects) fails now and then with "AST constructor recursion
        # depth mismatch", an error of the tool, not of the API.
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "20",
        "--no-shrink",
        "--report",
        "junit",
        "--report-junit-path",
        os.path.join(WORK, f"{name}.xml"),
        "--warnings",
        "off",
    ]
    if exclude:
        args += ["--exclude-path-regex", exclude]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    started = time.monotonic()
    try:
        # In the temp dir: schemathesis keeps its example database in the working directory.
        out = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, cwd=WORK)
    except subprocess.TimeoutExpired as e:
        print(f"== fuzz {name}: no result within {TIMEOUT} s")
        print(((e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""))[-5000:])
        return False, 0, TIMEOUT
    took = time.monotonic() - started
    text = out.stdout + out.stderr
    cases = count_cases(text)
    print(f"== fuzz {name}: exit {out.returncode}, {cases} test cases, {took:.1f} s")
    if out.returncode != 0:
        print(text[-20000:])
    return out.returncode == 0, cases, took


def count_cases(text):
    """Test cases generated, from schemathesis' summary ("Test cases: N generated, ...")."""
    m = re.search(r"(\d+) generated", text)
    return int(m.group(1)) if m else 0


def generated_client():
    """Generate a client from the committed spec, then create a task and read it back."""
    out = os.path.join(WORK, "client")
    started = time.monotonic()
    # The video download (`video/mp4`) is binary content the generator knows by another name.
    config = os.path.join(WORK, "client-config.json")
    with open(config, "w") as f:
        json.dump({"content_type_overrides": {"video/mp4": "application/octet-stream"}}, f)
    gen = subprocess.run(
        [
            "openapi-python-client",
            "generate",
            "--path",
            os.path.join(ROOT, "openapi", "openapi.json"),
            "--output-path",
            out,
            "--meta",
            "none",
            "--config",
            config,
            "--overwrite",
        ],
        capture_output=True,
        text=True,
    )
    if gen.returncode != 0:
        print("openapi-python-client failed:\n" + gen.stdout + gen.stderr)
        return False
    if "Warning" in gen.stdout or "Warning" in gen.stderr:
        print("openapi-python-client warnings:\n" + gen.stdout + gen.stderr)
        return False
    sys.path.insert(0, WORK)
    pkg = os.path.basename(out)
    client_mod = importlib.import_module(f"{pkg}.client")
    models = importlib.import_module(f"{pkg}.models")
    create = importlib.import_module(f"{pkg}.api.generations.create_generation")
    get = importlib.import_module(f"{pkg}.api.generations.get_generation")
    list_models = importlib.import_module(f"{pkg}.api.models.list_models")
    client = client_mod.AuthenticatedClient(base_url=BASE, token=KEY)
    listed = list_models.sync(client=client)
    ids = [m.id for m in listed.data]
    assert "video-2.0-mini-text-to-video" in ids, ids
    body = models.CreateGeneration(
        model="video-2.0-mini-text-to-video", prompt="A paper boat drifts on a calm lake"
    )
    accepted = create.sync(client=client, body=body)
    assert accepted is not None and accepted.status == "pending", accepted
    task_id = accepted.task_id
    deadline = time.monotonic() + 30
    while True:
        task = get.sync(client=client, task_id=task_id)
        assert task is not None and task.task_id == task_id, task
        if task.status in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, f"task still {task.status}"
        time.sleep(0.1)
    assert task.status == "completed", task
    assert task.url and task.url.startswith(BASE), task.url
    print(
        f"== generated client: created {task_id}, read it back as {task.status} "
        f"({time.monotonic() - started:.1f} s)"
    )
    return True


def main():
    customer = login("fuzzer", os.environ["FUZZ_USER_PW"])
    admin = login("fuzzadmin", os.environ["FUZZ_ADMIN_PW"])
    ok = True
    total_cases = 0
    total_time = 0.0
    ok &= generated_client()
    runs = [
        ("public", "^/(v1|api|healthz)", None, {"Authorization": f"Bearer {KEY}"}),
        (
            "console",
            "^/console/api/",
            "^/console/api/(admin/|logout)",
            {"Cookie": customer, **CONSOLE_HEADERS},
        ),
        ("operator", "^/console/api/admin/", None, {"Cookie": admin, **CONSOLE_HEADERS}),
    ]
    for name, include, exclude, headers in runs:
        passed, cases, took = schemathesis(name, include, exclude, headers)
        ok &= passed
        total_cases += cases
        total_time += took
    print(f"== fuzz total: {total_cases} test cases in {total_time:.1f} s; {'ok' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
