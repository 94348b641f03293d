"""Locust's master and worker on two hosts, as two machines would be: network namespaces joined by a veth pair.

The API and the master run on one host (10.231.N.1), the worker on the other (10.231.N.2),
fetching the locustfile from the master (`-f -`). The capacity search runs on the master,
from the worker's reports; the open model splits its rate over the workers.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import quote, urlsplit

import pytest

from blogproject import serve

from .helpers import BOUND, PROJECT_DIR
from .test_loadtests import PASSWORD, seed

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip"),
    reason="network namespaces need root and iproute2's `ip` (apt-get install iproute2)",
)


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def two_hosts():
    """Two network namespaces joined by a veth pair: their names and addresses."""
    n = os.getpid() % 250 + 1
    names = (f"blog-api-{os.getpid()}", f"blog-load-{os.getpid()}")
    addresses = (f"10.231.{n}.1", f"10.231.{n}.2")
    links = (f"vba{os.getpid()}"[:15], f"vbl{os.getpid()}"[:15])
    try:
        for name in names:
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("link", "add", links[0], "type", "veth", "peer", "name", links[1])
        for name, link, address in zip(names, links, addresses):
            ip("link", "set", link, "netns", name)
            ip("-n", name, "addr", "add", f"{address}/24", "dev", link)
            ip("-n", name, "link", "set", link, "up")
        yield names, addresses
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)  # takes its end of the veth along


def in_namespace(name, argv):
    return ["ip", "netns", "exec", name, *argv]


def database_url_for_another_host(url):
    """The test database as a process in another network namespace reaches it: PostgreSQL by its Unix socket."""
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres") and parts.hostname in ("127.0.0.1", "localhost"):
        return f"{parts.scheme}://{parts.username or 'postgres'}@{quote('/run/postgresql', safe='')}{parts.path}"
    return url


def wait_until_it_answers(namespace, url, server):
    probe = in_namespace(namespace, [sys.executable, "-c",
                                     "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)",
                                     f"{url}/health"])
    deadline = time.monotonic() + BOUND
    while subprocess.run(probe, capture_output=True).returncode != 0:
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the API did not answer at {url} in its namespace")
        time.sleep(0.3)


def run_master_and_worker(names, addresses, api_url, tmp_path, label, *options):
    """The master on the API's host and one worker on the other; the master's exit code and output."""
    port = "5557"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    env["BLOG_SEED_PASSWORD"] = PASSWORD
    with open(tmp_path / f"{label}-master.log", "w") as master_log, \
            open(tmp_path / f"{label}-worker.log", "w") as worker_log:
        master = subprocess.Popen(
            in_namespace(names[0], [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--master",
                                    "--headless", "--expect-workers", "1", "--master-bind-host", addresses[0],
                                    "--master-bind-port", port, "--host", api_url, "--blog-min-wait", "0",
                                    "--blog-max-wait", "0.1", "--blog-max-p95-ms", "60000", *options]),
            cwd=PROJECT_DIR, env=env, stdout=master_log, stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen(
            in_namespace(names[1], [sys.executable, "-m", "locust", "-f", "-", "--worker",
                                    "--master-host", addresses[0], "--master-port", port]),
            cwd=tmp_path, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
        )
        try:
            master.wait(timeout=240)
            worker.wait(timeout=60)
        finally:
            for process in (master, worker):
                if process.poll() is None:
                    process.kill()
                    process.wait()
    return master.returncode, (tmp_path / f"{label}-master.log").read_text()


def test_capacity_search_and_open_model_run_with_a_worker_on_another_host(two_hosts, server_env, tmp_path):
    names, addresses = two_hosts
    seed()
    env = {**server_env, "DATABASE_URL": database_url_for_another_host(server_env["DATABASE_URL"]),
           "DJANGO_ALLOWED_HOSTS": addresses[0]}
    port = 8000
    with open(tmp_path / "granian.log", "w") as log:
        server = subprocess.Popen(in_namespace(names[0], serve.command(addresses[0], port, 2)),
                                  cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    api_url = f"http://{addresses[0]}:{port}"
    try:
        wait_until_it_answers(names[0], api_url, server)
        report = tmp_path / "capacity.json"
        code, output = run_master_and_worker(
            names, addresses, api_url, tmp_path, "capacity", "--blog-capacity", "--blog-capacity-start-users", "2",
            "--blog-capacity-growth", "2", "--blog-capacity-hold", "5", "--blog-capacity-settle", "1",
            "--blog-capacity-max-users", "8", "--blog-capacity-report", str(report), "--run-time", "200",
        )
        assert code == 0, output
        assert re.search(r"Capacity: [\d.]+ req/s at \d users, .*: the search reached --blog-capacity-max-users 8",
                         output), output
        steps = re.findall(r"Capacity step (\d+) users: ([\d.]+) req/s.*Locust CPU worker 0 (\d+)%", output)
        assert [users for users, _, _ in steps] == ["2", "4", "8"], output
        assert all(float(rps) > 0 for _, rps, _ in steps), output

        code, output = run_master_and_worker(
            names, addresses, api_url, tmp_path, "open", "--blog-arrival-rate", "20", "--users", "4",
            "--spawn-rate", "4", "--run-time", "12",
        )
        assert code == 0, output
        sent = re.search(r"Open model at 20 requests/s planned: (\d+) sent \(([\d.]+)/s\)", output)
        assert sent and int(sent.group(1)) > 0, output
        assert re.search(r"Integrity \(totals of 1 worker\): acknowledged \d+, stored \d+ .*no writes lost", output)
    finally:
        server.terminate()
        server.wait(timeout=60)
