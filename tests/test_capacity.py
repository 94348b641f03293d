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
import urllib.parse
import urllib.request

import pytest

from .helpers import PROJECT_DIR, free_port, wait_for
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


VERDICT_SCRIPT = """
import json, sys, types
import locust  # first, as `locust -f` does: it patches the standard library for gevent
import loadtests.locustfile as locustfile

options = types.SimpleNamespace(
    blog_capacity_start_users=2, blog_capacity_growth=1.5, blog_max_response_time=500, blog_max_fail_ratio=0.01,
    blog_min_wait=0.0, blog_max_wait=0.0, blog_write_percent=0, host="http://127.0.0.1:9")
search = locustfile.CapacitySearch(types.SimpleNamespace(parsed_options=options, runner=None))
for users, rps, p95, cpu, broke, slo_met in json.loads(sys.argv[1]):
    search.steps.append(locustfile.Step(
        users=users, seconds=10, requests=int(rps * 10), failures=0, rps=rps, p50_ms=p95 // 2, p95_ms=p95,
        p99_ms=p95, mean_ms=p95 / 2, think_s=0, in_flight=users, steady=True, cpu={"locust": cpu},
        machine_cpu=0.5, broke=broke, slo_met=slo_met))
search.ended = search.steps[-1].broke
lines, code, data = search.verdict()
print(json.dumps({"lines": lines, "code": code, "capacity": data["capacity"]}))
"""


def judge(steps):
    """The search's verdict on these (users, rps, p95 ms, Locust's share of a core, broke, slo_met) steps."""
    output = subprocess.run([sys.executable, "-c", VERDICT_SCRIPT, json.dumps(steps)], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.splitlines()[-1])


def test_a_saturated_load_generator_is_named_as_the_limit_with_exit_code_3():
    verdict = judge([(2, 100.0, 10, 0.5, "", True), (3, 140.0, 12, 0.97, "", True),
                     (4, 141.0, 30, 0.98, "throughput only +1% (the knee)", True)])
    assert verdict["code"] == 3
    assert verdict["lines"][0].startswith("Capacity: 141.0 req/s at 4 users, p95 30 ms")
    assert "The load generator was the limit, not the API: locust used 98% of a core" in verdict["lines"][1]
    assert "--processes" in verdict["lines"][1]


def test_an_idle_load_generator_leaves_the_figure_to_the_api():
    verdict = judge([(2, 100.0, 10, 0.3, "", True), (3, 101.0, 900, 0.4, "p95 900 ms is over the SLO's 500 ms", False)])
    assert verdict["code"] == 0
    assert verdict["lines"] == ["Capacity: 100.0 req/s at 2 users, p95 10 ms (SLO: p95 <= 500 ms, failures <= 1%); "
                                "at 3 users: p95 900 ms is over the SLO's 500 ms"]
    assert verdict["capacity"]["users"] == 2


def test_no_step_within_the_slo_is_no_capacity_and_exit_code_1():
    verdict = judge([(2, 50.0, 900, 0.3, "p95 900 ms is over the SLO's 500 ms", False)])
    assert verdict["code"] == 1
    assert verdict["lines"][0].startswith("Capacity: not found: no step met the SLO")
    assert verdict["capacity"] is None


def test_the_web_ui_runs_the_search_when_its_custom_parameter_is_ticked(server_url, start_locust_web_ui, tmp_path):
    seed()
    web_ui = start_locust_web_ui("--blog-capacity-report", str(tmp_path / "c.json"))
    form = urllib.parse.urlencode({
        "user_count": "1", "spawn_rate": "1", "host": server_url, "blog_capacity": "true",
        "blog_capacity_start_users": "3", "blog_capacity_max_users": "4", "blog_capacity_hold": "2",
        "blog_capacity_settle": "0", "blog_min_wait": "0", "blog_max_wait": "0.1",
    }).encode()
    with urllib.request.urlopen(f"{web_ui.url}swarm", data=form, timeout=60) as response:
        assert json.load(response)["success"]
    wait_for(lambda: "Capacity: " in web_ui.log.read_text(), "the search's verdict")
    web_ui.stop()
    output = web_ui.log.read_text()
    assert [int(users) for users in re.findall(r"Capacity step (\d+) users", output)] == [3, 4], output
    assert "the search reached --blog-capacity-max-users 4" in output
    assert json.loads((tmp_path / "c.json").read_text())["steps"][0]["users"] == 3
