"""`python -m loadtests.faults --short`, end to end: every fault is injected, reported with a
recovery time, and the run passes (no lost write, no 500, recovery within its bound).

It starts its own server and database, so it needs no Django test database; each run
takes about a minute.
"""
import re
import subprocess
import sys

import pytest

from loadtests.faults import postgres_bindir

from .helpers import PROJECT_DIR

FAULT_LINE = r'fault "{name}" at \d+\.\d s: users saw .+; first good answer \d+\.\d+ s after; no 500'
# Past the run's own length (about a minute), for a slow shared machine; a hang fails the test.
LIMIT = 300


def run_faults(*options):
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.faults", "--short", *options],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=LIMIT,
    )
    return result.returncode, result.stdout + result.stderr


def assert_all_faults_passed(code, output, database_fault):
    assert code == 0, output
    for name in ("worker killed", "workers stalled", database_fault, "slow clients"):
        assert re.search(FAULT_LINE.format(name=name), output), f"no line for {name!r}:\n{output}"
    assert re.search(r"Integrity: acknowledged [1-9]\d*, stored \d+ .*: no writes lost", output), output
    assert output.rstrip().endswith("Faults: PASSED"), output


def test_faults_on_sqlite_lose_nothing_and_recover():
    code, output = run_faults("--database", "sqlite")
    if code == 2 and "cannot mount a small tmpfs" in output:
        pytest.skip(output.strip().splitlines()[-1])
    assert_all_faults_passed(code, output, "disk full")


def test_faults_on_postgres_lose_nothing_and_recover():
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: apt-get install postgresql")
    code, output = run_faults("--database", "postgres")
    if code == 2 and "no `postgres` user" in output:
        pytest.skip(output.strip().splitlines()[-1])
    assert_all_faults_passed(code, output, "database restarted")
