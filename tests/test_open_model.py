"""The open model (--blog-arrival-rate): requests keep their planned starts while the server stalls.

A closed-model user that waits on a stalled answer sends nothing more, so the requests
that would have arrived meanwhile are never counted (coordinated omission). Counted from
their planned starts, as wrk2 counts, the stall shows.
"""
import os
import re
import signal
import time

import psutil

from .test_loadtests import run_locust, seed

RATE = 40  # requests a second, planned
STALL = 2.0  # seconds


class Stall:
    """Stops the server's workers (SIGSTOP) for STALL seconds once the run is under way, then lets them go on."""

    def __init__(self, server):
        self.server = server
        self.stopped_at = None
        self.resumed_at = None
        self.pids = []

    def __call__(self, stats):
        measured = sum(entry["num_requests"] for key, entry in stats.items()
                       if key[1] not in ("Aggregated", "/login/"))
        if self.stopped_at is None and measured >= 100:
            self.pids = [child.pid for child in psutil.Process(self.server.process.pid).children()]
            for pid in self.pids:
                os.kill(pid, signal.SIGSTOP)
            self.stopped_at = time.monotonic()
        elif self.resumed_at is None and self.stopped_at and time.monotonic() - self.stopped_at >= STALL:
            self.resume()
        # Enough requests after the stall for its victims to be answered and counted.
        return self.resumed_at is not None and measured >= 100 + 3 * RATE * STALL

    def resume(self):
        for pid in self.pids:
            os.kill(pid, signal.SIGCONT)
        self.resumed_at = time.monotonic()


def figures(line, part):
    """p50, p95, p99 in ms from the part of the open model's summary that starts with `part`."""
    found = re.search(re.escape(part) + r"[^:]*: p50 (\d+) ms, p95 (\d+) ms, p99 (\d+) ms", line)
    assert found, line
    return tuple(int(value) for value in found.groups())


def test_a_stalled_server_shows_in_the_latency_from_the_planned_starts(server, tmp_path):
    seed()
    stall = Stall(server)
    try:
        code, output, _ = run_locust(server.url, tmp_path, "--blog-arrival-rate", str(RATE), users=4,
                                     stop_when=stall, limit=180)
    finally:
        if stall.stopped_at and not stall.resumed_at:
            stall.resume()  # never leave the server stopped, whatever failed
    assert stall.resumed_at, output
    summary = next((line for line in output.splitlines() if "Open model at 40 requests/s planned" in line), None)
    assert summary, output
    corrected = figures(summary, "From each planned start")
    own = figures(summary, "From when each was sent")
    assert corrected[2] >= 1500, summary  # p99: the stall's victims, counted
    assert corrected[1] > own[1], summary  # the closed model's p95 hides most of them
    assert code == 0, output  # a stall is slow, not a failure: nothing timed out, nothing was lost


def test_arrival_rate_with_the_capacity_search_is_refused(tmp_path):
    code, output, _ = run_locust("http://127.0.0.1:9", tmp_path, "--blog-arrival-rate", "10", "--blog-capacity",
                                 limit=60)
    assert code == 1
    assert "--blog-arrival-rate and --blog-capacity cannot be combined" in output
