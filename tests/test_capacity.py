"""The capacity search (--blog-capacity) finds a known answer, and refuses what it cannot search.

The known answer: gunicorn's sync workers serve one request at a time each, so the API
behind a fixed sleep (tests/sleepy_wsgi.py) holds at most workers / (sleep + its own time)
requests a second, whatever the number of users. The search must find that ceiling.
"""
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from .helpers import PROJECT_DIR, free_port
from .test_loadtests import run_locust, seed

SLEEP = 0.05  # seconds: much more than the API's own time, so the ceiling is known within a few %
WORKERS = 2


@pytest.fixture
def sleepy_server(server_env, tmp_path):
    """gunicorn, 2 sync workers, serving the API behind SLEEP seconds per request; its base URL."""
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.sleepy_wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--worker-class", "sync", "--no-control-socket"],
        cwd=PROJECT_DIR, env={**server_env, "SLEEPY_SECONDS": str(SLEEP)}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=60).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"gunicorn did not start:\n{(tmp_path / 'gunicorn.log').read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def serial_ceiling(url, requests=40):
    """workers / the mean time of one request with the server otherwise idle: what saturation can reach."""
    started = time.monotonic()
    for _ in range(requests):
        urllib.request.urlopen(f"{url}/blog/posts", timeout=60).read()
    return WORKERS / ((time.monotonic() - started) / requests)


def wrk_ceiling(url):
    """What wrk measures at 8 connections (more than the workers, so they never idle); None without wrk."""
    if not shutil.which("wrk"):
        return None
    output = subprocess.run(["wrk", "-t1", "-c8", "-d4s", f"{url}/blog/posts"],
                            capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def test_capacity_search_finds_the_ceiling_of_a_server_with_a_known_service_time(sleepy_server, tmp_path):
    seed()
    expected = serial_ceiling(sleepy_server)
    measured_by_wrk = wrk_ceiling(sleepy_server)
    report = tmp_path / "capacity.json"
    code, output, _ = run_locust(
        sleepy_server, tmp_path, "--blog-capacity", "--blog-capacity-start-users", "1",
        "--blog-capacity-hold", "4", "--blog-capacity-settle", "1", "--blog-write-percent", "0",
        "--blog-min-wait", "0", "--blog-max-wait", "0", "--blog-capacity-report", str(report),
        "--run-time", "170", limit=240,
    )
    assert code == 0, output
    last_lines = [line for line in output.splitlines() if line.strip()][-1]
    found = re.search(r"Capacity: ([\d.]+) req/s at (\d+) users, p95 (\d+) ms \(SLO: p95 <= 60000 ms, "
                      r"failures <= 1%\); at (\d+) users: (.+)$", last_lines)
    assert found, f"the capacity line is not the last one:\n{output}"
    capacity, users = float(found.group(1)), int(found.group(2))
    assert "(the knee)" in found.group(5)
    assert abs(capacity - expected) <= 0.15 * expected, (capacity, expected, output)
    if measured_by_wrk:
        assert abs(capacity - measured_by_wrk) <= 0.15 * measured_by_wrk, (capacity, measured_by_wrk, output)
    # Below the ceiling each user adds throughput; the knee is where the workers are all busy.
    assert users >= WORKERS
    data = json.loads(report.read_text())
    assert data["capacity"]["rps"] == pytest.approx(capacity, abs=0.1)
    assert [step["users"] for step in data["steps"]][:3] == [1, 2, 3]
    assert all(step["steady"] for step in data["steps"]), data["steps"]
    assert not any(step["requests"] == 0 for step in data["steps"])
    assert data["exit_code"] == 0


@pytest.mark.parametrize("option, value, message", [
    ("--blog-capacity-growth", "1", "--blog-capacity-growth must be more than 1"),
    ("--blog-capacity-hold", "1", "--blog-capacity-hold must be at least 2 seconds"),
    ("--blog-capacity-start-users", "0", "--blog-capacity-start-users must be at least 1"),
    ("--blog-capacity-min-gain", "0.9", "--blog-capacity-min-gain (0.9) must be above 0 and below"),
])
def test_bad_capacity_options_refuse_the_run_with_a_message(option, value, message, tmp_path):
    code, output, _ = run_locust("http://127.0.0.1:9", tmp_path, "--blog-capacity", option, value, limit=60)
    assert code == 1
    assert message in output


def test_a_run_that_measured_too_little_fails_and_says_why(server_url, tmp_path):
    seed()
    code, output, stats = run_locust(
        server_url, tmp_path, "--blog-min-requests", "100000",
        stop_when=lambda stats: sum(entry["num_requests"] for key, entry in stats.items()
                                    if key[1] not in ("Aggregated", "/login/")) >= 1,
    )
    assert code == 1
    assert "fewer than --blog-min-requests 100000: the run measured too little to judge" in output
