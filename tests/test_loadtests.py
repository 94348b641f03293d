"""The Locust suite, run headless against a real server (granian) until it has done what each test needs.

No test gives Locust a --run-time: Locust counts it from before its start-up check and the
users' logins, which on a busy machine can take all of it. Each run is stopped instead, as
Ctrl-C or SIGTERM would stop it, once the test sees in Locust's live statistics or in the
database that what it checks has happened; Locust then stops the users and judges the run.
"""
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from blog.models import Comment, Post

from .helpers import BOUND, PROJECT_DIR, answers, free_port, wait_for

PASSWORD = "load-test-password"
READER_REQUESTS = {
    ("GET", "/blog/posts"),
    ("GET", "/blog/post/[id]"),
    ("GET", "/blog/post/[id]/comments"),
    ("GET", "/blog/comments"),
    ("GET", "/blog/comment/[id]"),
    ("GET", "/blog/posts?limit=[n]&offset=[n]"),
    ("GET", "/blog/comments?limit=[n]&offset=[n]"),
}
WRITER_REQUESTS = {
    ("POST", "/blog/create"),
    ("POST", "/blog/post/[id]/comment/create"),
}
INTEGRITY = re.compile(
    r"Integrity( \(totals of (\d+) workers?\))?: acknowledged (\d+), stored (\d+) .*: (no writes lost|.* LOST)"
)
# What a proxy in front of the API passes on: Host too, so that the links in the API's
# answers lead back to the proxy; not Accept-Encoding, as it passes bodies on unchanged.
FORWARDED_HEADERS = ("Host", "Accept", "Content-Type", "Authorization")
# Past this, a run that has not done what its test waits for is stopped anyway, so that its
# output shows why; the kill comes at 120 s.
STOP_ANYWAY_AFTER = 90


def seed(accounts=10, pattern="seed_user_{n}", posts=30, comments=60):
    """Accounts sharing one password (hashed once: each hash is a deliberately slow PBKDF2), posts and comments."""
    password = make_password(PASSWORD)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=pattern.format(n=n), password=password) for n in range(1, accounts + 1)
    )
    made = Post.objects.bulk_create(
        Post(title=f"Post {i}", body="A body.", user=users[i % accounts]) for i in range(posts)
    )
    Comment.objects.bulk_create(
        Comment(post=made[i % posts], body="A comment.", user=users[i % accounts]) for i in range(comments)
    )


def run_locust(server_url, tmp_path, *options, env=None, users=4, stop_when=None, meanwhile=None, limit=120,
               stop_with=signal.SIGTERM):
    """Run the locustfile headless: its exit code, its output, and its final stats by (method, name).

    Once `stop_when(stats so far)` holds, polled every 0.2 s, Locust gets SIGTERM (or
    `stop_with`: SIGINT goes to the whole process group, as a terminal's Ctrl-C does) and stops
    as after --run-time: it stops the users, judges the run and exits. Without `stop_when`
    the run must end by itself. `meanwhile`, if given, is called at each poll until Locust
    exits; one still running after `limit` seconds is killed. The final stats come from
    --json-file, written once at exit (the CSV files lag by up to a few seconds); with
    --processes every process would write that file, so
    those runs get none.
    """
    distributed = "--processes" in options
    command = [
        sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless", "--only-summary",
        "--host", server_url, "--users", str(users), "--spawn-rate", str(users),
        "--csv", str(tmp_path / "live"),
        "--blog-min-wait", "0", "--blog-max-wait", "0.1",
        "--blog-max-p95-ms", "60000",  # this machine's speed is not what these tests check
        "--blog-min-requests", "1",  # runs stop once what a test checks has happened, maybe early
        *options,
    ]
    if not distributed:
        command += ["--json-file", str(tmp_path / "stats")]
    # This file's options only, not whatever the developer's shell exports.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    environment.update({"BLOG_SEED_PASSWORD": PASSWORD, **(env or {})})
    with open(tmp_path / "locust.log", "w") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            started = time.monotonic()
            stopping = False
            while process.poll() is None and time.monotonic() < started + limit:
                if meanwhile:
                    meanwhile()
                if stop_when and not stopping and (
                    stop_when(read_live_stats(tmp_path)) or time.monotonic() > started + STOP_ANYWAY_AFTER
                ):
                    if stop_with == signal.SIGINT:
                        os.killpg(process.pid, signal.SIGINT)
                    else:
                        process.send_signal(stop_with)  # the master only: it stops its workers itself
                    stopping = True
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # Locust and the workers it forked
                process.wait()
    output = (tmp_path / "locust.log").read_text()
    stats = {}
    if not distributed and (tmp_path / "stats.json").exists():
        entries = json.loads((tmp_path / "stats.json").read_text())
        stats = {(entry["method"], entry["name"]): entry for entry in entries}
    return process.returncode, output, stats


def read_live_stats(tmp_path):
    """The stats so far by (method, name), from the CSV file Locust rewrites while it runs; {} before it has.

    Locust flushes the file every few seconds and rewrites it in place, so a read can catch
    it half written: rows without their counts are left out.
    """
    try:
        with open(tmp_path / "live_stats.csv", newline="") as file:
            rows = list(csv.DictReader(file))
    except FileNotFoundError:
        return {}
    columns = {"num_requests": "Request Count", "num_failures": "Failure Count"}
    return {
        (row["Type"], row["Name"]): {key: int(row[column]) for key, column in columns.items()}
        for row in rows
        if all((row.get(column) or "").isdigit() for column in columns.values())
    }


def read_failure_messages(tmp_path):
    """A reason Locust recorded for each failed request, by (method, name), as its last CSV write has them."""
    with open(tmp_path / "live_failures.csv", newline="") as file:
        return {(row["Method"], row["Name"]): row["Error"] for row in csv.DictReader(file)}


def requests_made(stats):
    return {key for key, entry in stats.items() if entry["num_requests"] > 0 and key[1] != "Aggregated"}


def failures(stats):
    return sum(entry["num_failures"] for key, entry in stats.items() if key[1] != "Aggregated")


def acknowledged_in_stats(stats):
    return sum(stats[key]["num_requests"] for key in WRITER_REQUESTS)


def writes_stored():
    return Post.objects.count() + Comment.objects.count()


@contextmanager
def serve_api_with_schema(server_url, edit_schema):
    """The URL of a proxy to the API at `server_url` that publishes `edit_schema(schema)` instead of the
    API's own schema, or answers 404 where that returns None; everything else passes through."""

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self):
            self.pass_through()

        def do_POST(self):
            self.pass_through()

        def pass_through(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            forwarded = {key: self.headers[key] for key in FORWARDED_HEADERS if key in self.headers}
            request = urllib.request.Request(
                server_url + self.path, data=body, headers=forwarded, method=self.command
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, answered, content = response.status, response.headers, response.read()
            except urllib.error.HTTPError as error:  # an answer all the same, 4xx or 5xx
                status, answered, content = error.code, error.headers, error.read()
            if self.path.startswith("/api/schema/") and status == 200:
                schema = edit_schema(json.loads(content))
                if schema is None:
                    status, content = 404, b'{"detail": "Not found."}'
                else:
                    content = json.dumps(schema).encode()
            self.send_response(status)
            self.send_header("Content-Type", answered["Content-Type"] or "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format, *args):
            pass  # the test's output is Locust's

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_load_run_exercises_every_task_without_failures_or_lost_writes(server_url, tmp_path):
    seed(posts=10_000)  # enough for the API to serve the post count from its short-lived cache
    before = writes_stored()

    # Half the sessions write, so that both sections soon run.
    code, output, stats = run_locust(
        server_url, tmp_path, "--blog-write-percent", "50",
        stop_when=lambda stats: READER_REQUESTS | WRITER_REQUESTS <= requests_made(stats),
    )

    assert code == 0, output
    assert failures(stats) == 0, output
    assert READER_REQUESTS | WRITER_REQUESTS <= requests_made(stats), output
    [(_, workers, acknowledged, stored, verdict)] = INTEGRITY.findall(output)
    assert (workers, verdict) == ("", "no writes lost"), output
    assert int(acknowledged) == acknowledged_in_stats(stats) > 0
    assert writes_stored() - before >= int(stored) >= int(acknowledged)


def test_custom_options_reach_the_users(server_url, tmp_path):
    seed(accounts=2, pattern="lt_writer_{n}")
    posts_before = set(Post.objects.values_list("id", flat=True))
    comments_before = set(Comment.objects.values_list("id", flat=True))

    def new_authors():
        posts = Post.objects.exclude(id__in=posts_before)
        comments = Comment.objects.exclude(id__in=comments_before)
        return {
            *posts.values_list("user__username", flat=True),
            *comments.values_list("user__username", flat=True),
        }

    code, output, stats = run_locust(
        server_url, tmp_path,
        "--blog-username-pattern", "lt_writer_{n}", "--blog-accounts", "2", "--blog-write-percent", "100",
        users=2,
        stop_when=lambda stats: WRITER_REQUESTS <= requests_made(stats) and len(new_authors()) == 2,
    )

    assert code == 0, output
    made = requests_made(stats)
    assert WRITER_REQUESTS <= made, output
    # Writers list posts to find one to comment on; nothing else a reader does happens.
    assert not (READER_REQUESTS - {("GET", "/blog/posts")}) & made, output
    assert new_authors() == {"lt_writer_1", "lt_writer_2"}


def test_run_over_the_p95_threshold_exits_1(server_url, tmp_path):
    seed()

    code, output, stats = run_locust(
        server_url, tmp_path, "--blog-max-p95-ms", "0", users=1, stop_when=requests_made,
    )

    assert code == 1, output
    assert "Load test failed: p95 response time" in output
    assert "is over --blog-max-p95-ms 0" in output
    assert failures(stats) == 0


WARM_UP_SCRIPT = """
import json, sys, types
import locust  # first, as `locust -f` does: it patches the standard library for gevent
import gevent
from locust.runners import STATE_RUNNING, STATE_SPAWNING
from locust.stats import RequestStats
import loadtests.locustfile as locustfile

options = types.SimpleNamespace(blog_max_response_time=500, blog_max_fail_ratio=0.01, blog_min_requests=10,
                                blog_arrival_rate=0)
runner = types.SimpleNamespace(state=STATE_SPAWNING, exceptions={})
environment = types.SimpleNamespace(stats=RequestStats(), runner=runner, parsed_options=options, shape_class=None)
verdict = locustfile.VERDICT  # the watcher watches the current run's verdict
verdict.counts_before = {"posts": 0, "comments": 0}
for _ in range(30):  # slow, while the users start and log in
    environment.stats.log_request("GET", "/blog/posts", 2000, 10)
locustfile.METER.logins = 1
watcher = gevent.spawn(locustfile.watch_warm_up, environment, verdict)
gevent.sleep(0.5)
runner.state = STATE_RUNNING  # every user started, but a login still in flight
gevent.sleep(0.5)
assert verdict.warm is None, "the warm-up ended with a login in flight"
locustfile.METER.logins = 0
watcher.join()
for _ in range(int(sys.argv[1])):
    environment.stats.log_request("GET", "/blog/posts", 20, 10)
problems, code = locustfile.gate_problems(environment, verdict)
print(json.dumps({"problems": problems, "after": locustfile.after_warm_up(environment, verdict,
                                                                        locustfile.take_snapshot(environment))}))
"""


def gate_after_warm_up(requests_after):
    """The p95 gate's problems for 30 slow requests during the warm-up and `requests_after` fast ones after it."""
    output = subprocess.run([sys.executable, "-c", WARM_UP_SCRIPT, str(requests_after)], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.splitlines()[-1])


def test_the_p95_gate_judges_the_requests_after_the_warm_up():
    judged = gate_after_warm_up(30)
    assert judged["after"] == [30, 20]
    assert judged["problems"] == []  # the whole run's p95 is 2,000 ms, over the gate's 500


def test_a_run_that_hardly_got_past_its_warm_up_is_judged_on_all_its_requests():
    judged = gate_after_warm_up(5)  # fewer than --blog-min-requests after the warm-up
    assert judged["after"] == [5, 20]
    assert judged["problems"] == ["p95 response time of every request but logins, the warm-up included, 2000 ms, "
                                  "is over --blog-max-p95-ms 500"]


def test_acknowledged_writes_missing_afterwards_fail_the_run(server_url, tmp_path):
    seed()
    seeded = list(Post.objects.values_list("id", flat=True))
    lost = 0

    def lose_new_posts():
        nonlocal lost
        _, deleted = Post.objects.exclude(id__in=seeded).delete()
        lost += deleted.get("blog.Post", 0)

    # Each of the 2 users may have one write cut off by the stop, stored but never
    # acknowledged: 3 lost posts are a loss the verdict cannot miss.
    code, output, _ = run_locust(
        server_url, tmp_path, "--blog-write-percent", "100",
        users=2, meanwhile=lose_new_posts, stop_when=lambda stats: lost >= 3,
    )

    assert code == 1, output
    [(_, _, acknowledged, stored, verdict)] = INTEGRITY.findall(output)
    assert verdict.endswith("acknowledged writes LOST"), output
    assert int(stored) < int(acknowledged)


def test_start_stops_the_run_against_an_empty_database(server_url, tmp_path):
    # No --run-time and no stop: the run ends by itself only because the check refuses it.
    code, output, stats = run_locust(server_url, tmp_path)

    assert code == 1, output
    assert "has no posts for readers to read" in output
    last = [line for line in output.splitlines() if line.strip()][-2:]
    assert "Verdict: FAILED (exit code 1)" in last[0] and "has no posts for readers to read" in last[1], output
    assert "python manage.py seed_blog" in output
    assert stats == {}
    assert "Integrity" not in output


def test_start_stops_the_run_when_the_api_publishes_no_schema(server_url, tmp_path):
    seed()

    with serve_api_with_schema(server_url, lambda schema: None) as api_url:
        code, output, stats = run_locust(api_url, tmp_path)

    assert code == 1, output
    assert f"Cannot read the API's schema at {api_url}/api/schema/?format=json" in output
    assert stats == {}
    assert "Integrity" not in output


def test_a_body_that_departs_from_the_published_schema_is_a_failure(server_url, tmp_path):
    seed()

    def require_a_colour(schema):
        post = schema["components"]["schemas"]["Post"]
        post["properties"]["colour"] = {"type": "string"}
        post["required"].append("colour")
        return schema

    with serve_api_with_schema(server_url, require_a_colour) as api_url:
        code, output, stats = run_locust(
            api_url, tmp_path, "--blog-write-percent", "0",
            # Once a list of posts has failed and the comments' list has been read too.
            stop_when=lambda stats: stats.get(("GET", "/blog/posts"), {}).get("num_failures")
            and stats.get(("GET", "/blog/comments"), {}).get("num_requests"),
        )

    assert code == 1, output
    assert "of requests failed, more than --blog-max-fail-ratio 0.01" in output
    posts = stats[("GET", "/blog/posts")]
    assert posts["num_failures"] == posts["num_requests"] > 0, output
    assert stats[("GET", "/blog/comments")]["num_failures"] == 0, output
    reason = read_failure_messages(tmp_path)[("GET", "/blog/posts")]
    assert "body.results[0] lacks ['colour']" in reason
    assert "unlike the API's schema for GET /blog/posts" in reason


def test_distributed_run_prints_the_integrity_of_all_workers_once(server_url, tmp_path):
    seed()
    before = writes_stored()

    port = str(free_port())  # not Locust's default 5557, which another run may hold
    code, output, _ = run_locust(
        server_url, tmp_path, "--processes", "2", "--blog-write-percent", "50",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--master-host", "127.0.0.1", "--master-port", port,
        stop_when=lambda stats: WRITER_REQUESTS & requests_made(stats),
    )

    assert code == 0, output
    assert re.search(r"Summary: [1-9]\d* requests, 0 failed", output), output
    [(_, workers, acknowledged, stored, verdict)] = INTEGRITY.findall(output)
    assert (workers, verdict) == ("2", "no writes lost"), output
    # Each of the 4 users may have had one write cut off by the stop: stored, never acknowledged.
    assert writes_stored() - before - 4 <= int(acknowledged) <= int(stored) <= writes_stored() - before
    assert int(acknowledged) > 0


def test_the_verdict_is_printed_last_agrees_with_the_csv_and_heads_the_html_report(server_url, tmp_path):
    seed()
    code, output, _ = run_locust(
        server_url, tmp_path, "--html", str(tmp_path / "report.html"),
        stop_when=lambda stats: sum(entry["num_requests"] for key, entry in stats.items()
                                    if key[1] != "Aggregated") >= 30,
    )
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.strip()]
    verdict_at = max(index for index, line in enumerate(lines) if "Verdict: PASSED (exit code 0)" in line)
    verdict = lines[verdict_at:]
    assert [re.sub(r"^\[[^]]*\] \S+/\w+/locustfile: ", "", line).split(":")[0] for line in verdict] == [
        "Verdict", "Report", "Summary", "Integrity"], verdict
    summary = re.search(r"Summary: (\d+) requests, (\d+) failed", verdict[2])
    with open(tmp_path / "live_stats.csv", newline="") as file:
        aggregated = next(row for row in csv.DictReader(file) if row["Name"] == "Aggregated")
    assert (aggregated["Request Count"], aggregated["Failure Count"]) == summary.groups()
    report = (tmp_path / "report.html").read_text()
    section = re.search(r'<section id="blog-verdict"[^>]*>(.*?)</section>', report).group(1)
    assert "Verdict: PASSED (exit code 0)" in section
    assert f"Summary: {summary.group(1)} requests" in section
    assert "Integrity: acknowledged" in section


def test_ctrl_c_ends_a_run_with_its_verdict_last_and_no_bare_keyboard_interrupt(server_url, tmp_path):
    seed()
    code, output, _ = run_locust(server_url, tmp_path, stop_when=lambda stats: len(requests_made(stats)) >= 2,
                                 stop_with=signal.SIGINT)

    assert code == 0, output
    assert "KeyboardInterrupt" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Verdict: PASSED (exit code 0)" in lines[-3], output
    assert INTEGRITY.search(lines[-1]), output


def test_ctrl_c_on_a_web_ui_that_ran_nothing_exits_0_without_a_verdict():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--web-host", "127.0.0.1",
         "--web-port", str(port), "--host", "http://127.0.0.1:9"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        wait_for(lambda: process.poll() is not None or answers(f"http://127.0.0.1:{port}/"), "Locust's web UI")
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=BOUND)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert process.returncode == 0, output
    assert "KeyboardInterrupt" not in output and "Load test failed" not in output, output


def busy_web_port_line(port):
    return (f"Locust's web UI cannot listen on 127.0.0.1:{port}: address already in use. Stop what listens there "
            f"(another Locust?), or choose another port: --web-port, or LOCUST_WEB_PORT "
            f"(make run LOCUST_WEB_PORT={port + 1}).")


@contextmanager
def taken_port():
    """A port something already listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_busy_web_port_stops_locust_with_one_line_and_exit_code_1():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    with taken_port() as port:
        result = subprocess.run(
            [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--web-host", "127.0.0.1",
             "--web-port", str(port), "--host", "http://127.0.0.1:9"],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=BOUND,
        )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert result.stderr.strip().splitlines()[-1] == busy_web_port_line(port)
    assert "Traceback" not in output and "Shutting down" not in output


def test_make_run_on_a_busy_web_port_stops_with_that_line_and_a_non_zero_status(server_url):
    """The Makefile's `run` recipe: with_api.sh, then Locust's web UI, on the port LOCUST_WEB_PORT names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    with taken_port() as port:
        result = subprocess.run(
            ["sh", "loadtests/with_api.sh", server_url, sys.executable, "-m", "locust", "-f",
             "loadtests/locustfile.py", "--host", server_url],
            cwd=PROJECT_DIR, env={**env, "LOCUST_WEB_PORT": str(port)}, capture_output=True, text=True,
            timeout=BOUND,
        )

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == busy_web_port_line(port)
