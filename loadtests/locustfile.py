"""Load test for the blog API: readers browse posts and comments, writers post and comment.

Run from the project root against a seeded server (`make serve`; `make run` and
`make loadtest` start one themselves). locust.conf there sets host, users and spawn rate.

    locust -f loadtests/locustfile.py                               # web UI at http://localhost:8089
    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 1m   # no UI, stops after a minute
    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 1m --processes 2
    locust -f loadtests/locustfile.py --master                      # then on each load machine:
    locust -f - --worker --master-host <master address>             # fetches this file from the master

This file's own options (accounts, password, read/write mix, think time, pass/fail
thresholds) are in add_blog_options below and under "Custom parameters" in the web UI;
each can also be set through the environment variable named there.

After a run the master (or the only process) logs a summary and the integrity line
"acknowledged N, stored N": the writes the API answered 201 to, against how much the
post and comment counts grew. A lost write, more failures than --blog-max-fail-ratio or
a p95 above --blog-max-p95-ms make the exit code 1.

Everything is in this one file so that `--worker -f -` can fetch all of it.
"""

import itertools
import logging
import random
import time
from collections import deque

import gevent
import requests
from gevent.lock import Semaphore
from locust import FastHttpUser, TaskSet, events, task
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

logger = logging.getLogger(__name__)

LOGIN = "/login/"
CREATE_POST = "/blog/create"
CREATE_COMMENT = "/blog/post/[id]/comment/create"
PAGE_KEYS = {"count", "next", "previous", "results"}
POST_KEYS = {"id", "url", "title", "body", "created_at", "user"}
COMMENT_KEYS = {"id", "url", "body", "created_at", "user", "post"}
PAGE_SIZE = 10  # what a paging client asks for with ?limit=
WORDS = (
    "load latency queue cache index token page offset limit worker server client "
    "request response database replica commit write read count settle throughput"
).split()


# --- Options ---------------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def add_blog_options(parser):
    parser.add_argument(
        "--blog-username-pattern", env_var="BLOG_LOADTEST_USERNAME_PATTERN", default="seed_user_{n}",
        help="User name of account n (1, 2, ...), as `manage.py seed_blog` names them. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-password", env_var="BLOG_SEED_PASSWORD", default="seed-password-local-only", is_secret=True,
        help="The password the accounts share, as seed_blog set it.",
    )
    parser.add_argument(
        "--blog-accounts", env_var="BLOG_LOADTEST_ACCOUNTS", type=int, default=10,
        help="How many accounts the simulated users are spread over. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-write-percent", env_var="BLOG_LOADTEST_WRITE_PERCENT", type=int, default=20,
        help="Percentage of user sessions that write rather than read, 0-100. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-min-wait", env_var="BLOG_LOADTEST_MIN_WAIT", type=float, default=0.5,
        help="Shortest think time between a user's tasks, in seconds. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-max-wait", env_var="BLOG_LOADTEST_MAX_WAIT", type=float, default=2.5,
        help="Longest think time between a user's tasks, in seconds. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-max-fail-ratio", env_var="BLOG_LOADTEST_MAX_FAIL_RATIO", type=float, default=0.01,
        help="Exit code 1 when a larger share of all requests failed. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-max-p95-ms", env_var="BLOG_LOADTEST_MAX_P95_MS", type=int, default=500,
        help="Exit code 1 when the 95th percentile response time of all requests (the report's "
             "Aggregated row) is above this many milliseconds. Default: %(default)s",
    )


def option_problem(options):
    """What is wrong with the options, in words that say how to fix it; None when nothing is."""
    pattern = options.blog_username_pattern
    try:
        usable = "{n}" in pattern and pattern.format(n=1)
    except (KeyError, IndexError, ValueError):
        usable = False
    if not usable:
        return f"--blog-username-pattern {pattern!r} must contain {{n}} and no other braces: seed_user_{{n}}"
    if options.blog_accounts < 1:
        return f"--blog-accounts must be at least 1, not {options.blog_accounts}"
    if not 0 <= options.blog_write_percent <= 100:
        return f"--blog-write-percent must be between 0 and 100, not {options.blog_write_percent}"
    if not 0 <= options.blog_min_wait <= options.blog_max_wait:
        return (f"--blog-min-wait ({options.blog_min_wait}) must be at least 0 and at most "
                f"--blog-max-wait ({options.blog_max_wait})")
    return None


def username(options, n):
    return options.blog_username_pattern.format(n=n)


# --- Checking what came back -------------------------------------------------------------


def expect_json(response, status, keys):
    """The JSON object of a response with this status and these keys; else None, and a failure."""
    if response.status_code != status:
        detail = (response.text or "")[:200] if response.status_code else getattr(response, "error", "")
        response.failure(f"expected {status}, got {response.status_code}: {detail}")
        return None
    try:
        body = response.json()
    except (TypeError, ValueError):
        response.failure(f"{status} but the body is not JSON: {(response.text or '')[:200]!r}")
        return None
    if not isinstance(body, dict) or keys - body.keys():
        response.failure(f"{status} but the body lacks some of {sorted(keys)}: {body!r:.200}")
        return None
    return body


def item_problem(item, keys):
    """What a post or comment as the API shows it lacks, or None."""
    if not isinstance(item, dict) or keys - item.keys():
        return f"an item lacks some of {sorted(keys)}: {item!r:.200}"
    if not isinstance(item["user"], dict) or {"id", "username"} - item["user"].keys():
        return f"item {item['id']} has user {item['user']!r:.100}, not {{id, username}}"
    if "post" in keys and (not isinstance(item["post"], dict) or {"id", "title"} - item["post"].keys()):
        return f"comment {item['id']} has post {item['post']!r:.100}, not {{id, title}}"
    return None


def expect_item(response, keys, item_id):
    """The post or comment `item_id` from a detail response; else None, and a failure."""
    item = expect_json(response, 200, keys)
    if item is None:
        return None
    problem = item_problem(item, keys)
    if problem is None and item["id"] != item_id:
        problem = f"asked for {item_id}, got {item['id']}"
    if problem:
        response.failure(problem)
        return None
    return item


def expect_page(response, keys):
    """A limit/offset page of posts or comments; else None, and a failure."""
    page = expect_json(response, 200, PAGE_KEYS)
    if page is None:
        return None
    if not isinstance(page["results"], list) or not isinstance(page["count"], int):
        response.failure(f"'results' is not a list or 'count' not a number: {page!r:.200}")
        return None
    if problem := next(filter(None, (item_problem(item, keys) for item in page["results"])), None):
        response.failure(problem)
        return None
    if page["next"] is not None and "offset=" not in str(page["next"]):
        response.failure(f"'next' is not a limit/offset link: {page['next']!r}")
        return None
    return page


def text(words):
    return " ".join(random.choices(WORDS, k=words)).capitalize() + "."


# --- Accounts and their tokens -----------------------------------------------------------


class SharedTokens:
    """One login per account per Locust process, its token shared by the users on that account.

    A password check costs the server 0.3-1 s of CPU and DRF keeps one token per user, so
    logging every simulated user in would measure PBKDF2 rather than the API.
    """

    def __init__(self):
        self.tokens = {}
        self.locks = {}

    def token(self, user):
        """The token of the user's account, logging in unless this process already has it; or None."""
        with self.locks.setdefault(user.username, Semaphore()):
            if user.username not in self.tokens:
                token = log_in(user)
                if token is None:
                    return None
                self.tokens[user.username] = token
            return self.tokens[user.username]

    def renew(self, user, token):
        self.tokens[user.username] = token

    def refused(self, user, token):
        """Forget a token the API answered 401 to, so that the next use logs in again."""
        if self.tokens.get(user.username) == token:
            del self.tokens[user.username]


TOKENS = SharedTokens()
USER_NUMBERS = itertools.count()


def log_in(user):
    payload = {"username": user.username, "password": user.password}
    with user.client.post(LOGIN, json=payload, name=LOGIN, catch_response=True) as response:
        body = expect_json(response, 200, {"token"})
        if body is None:
            return None
        if not isinstance(body["token"], str) or not body["token"]:
            response.failure(f"the token is empty or not a string: {body['token']!r}")
            return None
        return body["token"]


# --- What the users do -------------------------------------------------------------------


def list_posts(user):
    with user.client.get("/blog/posts", name="/blog/posts", catch_response=True) as response:
        if page := expect_page(response, POST_KEYS):
            user.post_ids.extend(post["id"] for post in page["results"])


def list_comments(user):
    with user.client.get("/blog/comments", name="/blog/comments", catch_response=True) as response:
        if page := expect_page(response, COMMENT_KEYS):
            user.comment_ids.extend(comment["id"] for comment in page["results"])
            user.post_ids.extend(comment["post"]["id"] for comment in page["results"])


def known_post(user):
    """A post id the API has shown this user, listing posts first if it has shown none; or None."""
    if not user.post_ids:
        list_posts(user)
    return random.choice(user.post_ids) if user.post_ids else None


class PageThrough(TaskSet):
    """Pages through the lists by following `next`, as a client with an endless scroll does."""

    def on_start(self):
        self.next_url = {"posts": None, "comments": None}

    def follow(self, kind, keys):
        url = self.next_url[kind] or f"/blog/{kind}?limit={PAGE_SIZE}"
        with self.client.get(url, name=f"/blog/{kind}?limit=[n]&offset=[n]", catch_response=True) as response:
            page = expect_page(response, keys)
            following = page and page["next"]
            here = f"{self.user.host.rstrip('/')}/blog/{kind}?"
            if following and not following.startswith(here):
                response.failure(f"'next' leads away from {here}: {following}")
                following = None
            self.next_url[kind] = following
        if following is None and page is not None:
            self.interrupt(reschedule=False)  # read to the end

    @task(3)
    def next_post_page(self):
        self.follow("posts", POST_KEYS)

    @task(2)
    def next_comment_page(self):
        self.follow("comments", COMMENT_KEYS)

    @task(1)
    def stop_paging(self):
        self.interrupt()


class Reader(TaskSet):
    """Reads without logging in: the post list most, then posts, their comments, comments."""

    tasks = {PageThrough: 1}

    @task(8)
    def list_posts(self):
        list_posts(self.user)

    @task(4)
    def open_post(self):
        if (post_id := known_post(self.user)) is None:
            return
        url = f"/blog/post/{post_id}"
        with self.client.get(url, name="/blog/post/[id]", catch_response=True) as response:
            expect_item(response, POST_KEYS, post_id)

    @task(3)
    def read_post_comments(self):
        if (post_id := known_post(self.user)) is None:
            return
        url = f"/blog/post/{post_id}/comments"
        with self.client.get(url, name="/blog/post/[id]/comments", catch_response=True) as response:
            if not (page := expect_page(response, COMMENT_KEYS)):
                return
            if strays := [comment["id"] for comment in page["results"] if comment["post"]["id"] != post_id]:
                response.failure(f"comments {strays} are listed under post {post_id} but belong to others")
                return
            self.user.comment_ids.extend(comment["id"] for comment in page["results"])

    @task(2)
    def list_comments(self):
        list_comments(self.user)

    @task(2)
    def open_comment(self):
        if not self.user.comment_ids:
            list_comments(self.user)
        if not self.user.comment_ids:
            return
        comment_id = random.choice(self.user.comment_ids)
        url = f"/blog/comment/{comment_id}"
        with self.client.get(url, name="/blog/comment/[id]", catch_response=True) as response:
            expect_item(response, COMMENT_KEYS, comment_id)

    @task(1)
    def stop_reading(self):
        self.interrupt()


class Writer(TaskSet):
    """Writes with the account's token: posts, and comments on posts the API has shown."""

    def on_start(self):
        if TOKENS.token(self.user) is None:
            self.interrupt(reschedule=False)  # the failed login is in the stats; retry next session

    def send(self, url, name, payload, expected):
        """POST with the account's token: the body of a 201 matching `expected`; else None, and a failure."""
        if (token := TOKENS.token(self.user)) is None:
            self.interrupt(reschedule=False)
        headers = {"Authorization": f"Token {token}"}
        with self.client.post(url, json=payload, headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 201:
                TALLY.acknowledged(name)  # whatever the body says, the API has taken the write
            elif response.status_code == 401:
                TOKENS.refused(self.user, token)
            if (body := expect_json(response, 201, {"id", "user", *expected})) is None:
                return None
            if wrong := sorted(key for key, value in expected.items() if body[key] != value):
                response.failure(f"201 but {wrong} are not what was sent: {body!r:.200}")
                return None
            self.user.account_id = self.user.account_id or body["user"]
            if body["user"] != self.user.account_id:
                response.failure(f"201 but written as user {body['user']}, not {self.user.account_id}")
                return None
            return body

    @task(2)
    def create_post(self):
        payload = {"title": text(6), "body": text(60)}
        if post := self.send(CREATE_POST, CREATE_POST, payload, payload):
            self.user.post_ids.append(post["id"])

    @task(4)
    def comment_on_post(self):
        if (post_id := known_post(self.user)) is None:
            return
        payload = {"body": text(20)}
        url = f"/blog/post/{post_id}/comment/create"
        self.send(url, CREATE_COMMENT, payload, {**payload, "post": post_id})

    @task(1)
    def stop_writing(self):
        self.interrupt()


class BlogUser(FastHttpUser):
    """A visitor on one of the seeded accounts who mostly reads and sometimes writes."""

    tasks = {Reader: 80, Writer: 20}  # on_start applies --blog-write-percent

    def wait_time(self):
        options = self.environment.parsed_options
        return random.uniform(options.blog_min_wait, options.blog_max_wait)

    def on_start(self):
        options = self.environment.parsed_options
        writes = options.blog_write_percent
        self.tasks = [Reader] * (100 - writes) + [Writer] * writes + [BlogUser.log_in_again]
        # Round-robin over the accounts; a worker takes every n-th one, so workers differ.
        runner = self.environment.runner
        workers = max(options.expect_workers, 1) if isinstance(runner, WorkerRunner) else 1
        number = next(USER_NUMBERS) * workers + runner.worker_index
        self.username = username(options, number % options.blog_accounts + 1)
        self.password = options.blog_password
        self.account_id = None  # the API tells it with the first write
        self.post_ids = deque(maxlen=100)
        self.comment_ids = deque(maxlen=100)
        TOKENS.token(self)

    @task(1)
    def log_in_again(self):
        """Exercises /login/ itself; rarely, as every call costs the server a password check."""
        if token := log_in(self):
            TOKENS.renew(self, token)


# --- The run: checks before, tallies during, verdict after -------------------------------


class WriteTally:
    """The writes the API acknowledged with 201 in this process during the current run."""

    def __init__(self):
        self.counts = {"posts": 0, "comments": 0}
        self.state = "idle"  # "running", then "stopped" until the next run starts

    def start(self):
        self.counts = {"posts": 0, "comments": 0}
        self.state = "running"

    def acknowledged(self, name):
        self.counts["posts" if name == CREATE_POST else "comments"] += 1


TALLY = WriteTally()


class RunVerdict:
    """What the master, or the only process, needs to judge a run once it has stopped."""

    def __init__(self):
        self.start()

    def start(self):
        self.counts_before = None
        self.workers = set()
        self.worker_tallies = {}
        self.problems = []
        self.reporter = None


VERDICT = RunVerdict()


def read_counts(host):
    """How many posts and comments the API says it has: the `count` of each list."""
    counts = {}
    for kind in ("posts", "comments"):
        response = requests.get(f"{host}/blog/{kind}", params={"limit": 1}, timeout=10)
        response.raise_for_status()
        counts[kind] = response.json()["count"]
    return counts


def target_problem(environment):
    """Why the API at the host cannot be load tested, in words that say how to fix it; or None."""
    host = environment.host
    options = environment.parsed_options
    if not host:
        return "No host to test: pass --host http://127.0.0.1:8000 (locust.conf sets it in the project root)."
    try:
        health = requests.get(f"{host}/health", timeout=10)
    except requests.RequestException as error:
        return f"The API does not answer at {host} ({error}): start it with `make serve`, or fix --host."
    if health.status_code != 200:
        return f"{host}/health answered {health.status_code}, not 200: {health.text[:200]}"
    try:
        counts = read_counts(host)
    except (requests.RequestException, ValueError, KeyError) as error:
        return f"{host}/blog/posts and /blog/comments must answer pages with a count ({error})."
    if counts["posts"] == 0:
        return (f"The API at {host} has no posts for readers to read: load the demo data with "
                "`python manage.py seed_blog` (`make serve` runs it), then start again.")
    # The last account: if it exists, seed_blog made the ones before it too.
    last = username(options, options.blog_accounts)
    try:
        login = requests.post(f"{host}{LOGIN}", json={"username": last, "password": options.blog_password},
                              timeout=30)
    except requests.RequestException as error:
        return f"{host}{LOGIN} does not answer ({error})."
    if login.status_code != 200:
        return (f"Cannot log in as {last} ({login.status_code}: {login.text[:200]}): create the accounts "
                "with `python manage.py seed_blog`, or make --blog-username-pattern, --blog-accounts and "
                "--blog-password (BLOG_SEED_PASSWORD) match the accounts that exist.")
    return None


def abort_run(environment, message):
    """Stop the run before any user starts, with the message and exit code 1."""
    VERDICT.problems.append(message)
    logger.error(message)
    runner = environment.runner
    gevent.spawn(runner.quit if environment.parsed_options.headless else runner.stop)
    # Ends runner.start() quietly, before it spawns a user or sends work to a worker.
    # (StopTest would stop a local runner too, with a traceback; a master lets it escape.)
    raise gevent.GreenletExit


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    TALLY.start()
    if isinstance(environment.runner, WorkerRunner):
        return  # the master checks the target and reads the counts
    VERDICT.start()
    if problem := option_problem(environment.parsed_options) or target_problem(environment):
        abort_run(environment, problem)
    VERDICT.counts_before = read_counts(environment.host)
    if isinstance(environment.runner, MasterRunner):
        clients = environment.runner.clients
        VERDICT.workers = {node.id for node in clients.ready + clients.spawning + clients.running}


@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    TALLY.state = "stopped"
    if isinstance(environment.runner, WorkerRunner) or VERDICT.counts_before is None:
        return
    # In a greenlet: a master's workers send their final tallies only after this event.
    VERDICT.reporter = gevent.spawn(report_run, environment)


@events.report_to_master.add_listener
def on_report_to_master(client_id, data):
    if TALLY.state != "idle":
        data["blog_writes"] = {**TALLY.counts, "final": TALLY.state == "stopped"}


@events.worker_report.add_listener
def on_worker_report(client_id, data):
    if "blog_writes" in data:
        VERDICT.worker_tallies[client_id] = data["blog_writes"]


def acknowledged_writes(environment):
    """This process's tally; on a master the sum of its workers' final tallies, and their number."""
    if not isinstance(environment.runner, MasterRunner):
        return dict(TALLY.counts), ""
    # A worker sends its final tally with its first report after its users stopped.
    deadline = time.monotonic() + 2 * WORKER_REPORT_INTERVAL + 2
    while waiting_for_workers() and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if late := waiting_for_workers():
        logger.warning("No final tally from workers %s: counting their last reports", late)
    tallies = VERDICT.worker_tallies.values()
    totals = {kind: sum(tally[kind] for tally in tallies) for kind in ("posts", "comments")}
    return totals, f" (totals of {len(tallies)} worker{'' if len(tallies) == 1 else 's'})"


def waiting_for_workers():
    """The workers in this run whose final tally has not arrived."""
    workers = VERDICT.workers | VERDICT.worker_tallies.keys()
    return sorted(worker for worker in workers if not VERDICT.worker_tallies.get(worker, {}).get("final"))


def stored_writes(environment):
    """How much each count grew in the run.

    The API's counts are exact and a 201 is sent only after its commit, so one read
    after the run has stopped holds every acknowledged write.
    """
    after = read_counts(environment.host)
    return {kind: after[kind] - VERDICT.counts_before[kind] for kind in after}


def report_run(environment):
    acknowledged, source = acknowledged_writes(environment)
    total = environment.stats.total
    logger.info(
        "Summary: %d requests, %d failed (%.2f%%), %.1f requests/s, median %d ms, p95 %d ms",
        total.num_requests, total.num_failures, 100 * total.fail_ratio, total.total_rps,
        total.median_response_time, total.get_response_time_percentile(0.95),
    )
    line = f"Integrity{source}: acknowledged {sum(acknowledged.values())}"
    try:
        stored = stored_writes(environment)
    except (requests.RequestException, ValueError, KeyError) as error:
        VERDICT.problems.append(f"{line}, stored unknown: cannot read the counts ({error})")
        logger.error(VERDICT.problems[-1])
        return
    line += f", stored {sum(stored.values())} ("
    line += ", ".join(f"{kind} {stored[kind]} of {acknowledged[kind]}" for kind in ("posts", "comments"))
    line += ")"
    if lost := sum(max(acknowledged[kind] - stored[kind], 0) for kind in stored):
        VERDICT.problems.append(f"{line}: {lost} acknowledged writes LOST")
        logger.error(VERDICT.problems[-1])
    elif extra := sum(stored.values()) - sum(acknowledged.values()):
        logger.info("%s: no writes lost (%d more stored: cut off by the stop, or other clients)", line, extra)
    else:
        logger.info("%s: no writes lost", line)


@events.quitting.add_listener
def on_quitting(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    if not isinstance(runner, MasterRunner) and runner.state in (STATE_SPAWNING, STATE_RUNNING):
        runner.stop()  # quit mid-run from the web UI: judge the run that was going on
    if VERDICT.reporter is not None:
        # Long enough for the workers' final tallies and the count reads (10 s timeouts).
        VERDICT.reporter.join(timeout=60)
    options = environment.parsed_options
    total = environment.stats.total
    problems = []
    if total.fail_ratio > options.blog_max_fail_ratio:
        problems.append(f"{100 * total.fail_ratio:.2f}% of requests failed, more than "
                        f"--blog-max-fail-ratio {options.blog_max_fail_ratio}")
    if total.num_requests and (p95 := total.get_response_time_percentile(0.95)) > options.blog_max_p95_ms:
        problems.append(f"p95 response time {p95} ms is over --blog-max-p95-ms {options.blog_max_p95_ms}")
    for problem in problems:
        logger.error("Load test failed: %s", problem)
    environment.process_exit_code = 1 if problems or VERDICT.problems else 0
