"""`python -m loadtests.faults --short`, end to end: every fault is injected, reported with a
recovery time, and the run passes (no lost write, no 500, recovery within its bound). With
--web, the same for a run started through Locust's web UI with "Blog faults" ticked.

It starts its own server and database, so it needs no Django test database; each run
takes about a minute.
"""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from loadtests.private_services import missing_postgres

from .helpers import PROJECT_DIR, free_port, wait_for

SQLITE_FAULTS = ("worker killed", "workers stalled", "disk full", "slow clients")
FAULT_LINE = r'fault "{name}" at \d+\.\d s: users saw .+; first good answer \d+\.\d+ s after; no 500'
# Past the run's own length (about a minute), for a slow shared machine; a hang fails the test.
LIMIT = 300


def run_faults(*options):
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.faults", "--short", *options],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=LIMIT,
    )
    return result.returncode, result.stdout + result.stderr


def assert_all_faults_passed(output, database_fault):
    for name in ("worker killed", "workers stalled", database_fault, "slow clients"):
        assert re.search(FAULT_LINE.format(name=name), output), f"no line for {name!r}:\n{output}"
    assert re.search(r"Integrity: acknowledged [1-9]\d*, stored \d+ .*: no writes lost", output), output
    assert output.rstrip().endswith("Faults: PASSED"), output


def test_faults_on_sqlite_lose_nothing_and_recover():
    code, output = run_faults("--database", "sqlite")
    if code == 2 and "cannot mount a small tmpfs" in output:
        pytest.skip(output.strip().splitlines()[-1])
    assert code == 0, output
    assert_all_faults_passed(output, "disk full")


def test_faults_on_postgres_lose_nothing_and_recover():
    if problem := missing_postgres():
        pytest.skip(problem)
    code, output = run_faults("--database", "postgres")
    assert code == 0, output
    assert_all_faults_passed(output, "database restarted")


def test_a_run_started_in_the_web_ui_with_blog_faults_ticked_gets_the_faults_and_their_verdict(tmp_path):
    web_ui = f"http://127.0.0.1:{free_port()}"
    output_file = tmp_path / "faults.out"
    with open(output_file, "w") as output:
        harness = subprocess.Popen(
            [sys.executable, "-m", "loadtests.faults", "--web", "--short"], cwd=PROJECT_DIR,
            env={**os.environ, "LOCUST_WEB_PORT": web_ui.rsplit(":", 1)[1]}, stdout=output, stderr=subprocess.STDOUT,
        )

    def output_has(pattern):
        return harness.poll() is not None or re.search(pattern, output_file.read_text())

    try:
        wait_for(lambda: output_has(f"Locust web UI: {re.escape(web_ui)} "), "the harness to serve Locust's web UI")
        if harness.poll() == 2 and "cannot mount a small tmpfs" in output_file.read_text():
            pytest.skip(output_file.read_text().strip().splitlines()[-1])
        assert harness.poll() is None, output_file.read_text()
        api = re.search(r"API: granian with 2 workers at (\S+)", output_file.read_text())[1]

        # The start form's fields, as the web UI sends them.
        form = {"user_count": 10, "spawn_rate": 10, "host": api, "blog_faults": "true"}
        request = urllib.request.Request(f"{web_ui}/swarm", data=urllib.parse.urlencode(form).encode())
        with urllib.request.urlopen(request, timeout=120) as response:
            assert json.load(response)["success"]
        for name in SQLITE_FAULTS:
            wait_for(lambda: output_has(f'injected "{name}" at'), f"{name!r} to be injected")
        wait_for(lambda: output_has("Faults: (PASSED|FAILED)"), "the run's verdict")
        output = output_file.read_text()
        assert_all_faults_passed(output[output.index("Run with faults"):], "disk full")

        def logs():
            with urllib.request.urlopen(f"{web_ui}/logs", timeout=120) as response:
                return "\n".join(json.load(response)["master"])

        # Locust logs what the harness says as it comes: the Logs tab shows the same lines.
        wait_for(lambda: "Faults: PASSED" in logs(), "the verdict in the web UI's Logs tab")
        for name in SQLITE_FAULTS:
            assert re.search(FAULT_LINE.format(name=name), logs()), logs()

        harness.send_signal(signal.SIGTERM)  # as Ctrl-C: the end of a --web session
        assert harness.wait(timeout=LIMIT) == 0, output_file.read_text()
        assert output_file.read_text().rstrip().endswith("Stopping everything: 1 of 1 runs with faults passed")
        for url in (web_ui, api):
            with pytest.raises(OSError):
                urllib.request.urlopen(url, timeout=10)
    finally:
        if harness.poll() is None:
            harness.send_signal(signal.SIGTERM)  # not SIGKILL: it stops what it started
            harness.wait(timeout=LIMIT)
