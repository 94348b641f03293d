"""Load test for the blog API: readers browse posts and comments, writers post and comment.

Run from the project root against a seeded server (`make serve`; `make run` and
`make loadtest` start one themselves). locust.conf there sets host, users and spawn rate.

    locust -f loadtests/locustfile.py                               # web UI at http://localhost:8089
    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 1m   # no UI, stops after a minute
    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 1m --processes 2
    locust -f loadtests/locustfile.py --master                      # then on each load machine:
    locust -f - --worker --master-host <master address>             # fetches this file from the master
    locust -f loadtests/locustfile.py --headless --blog-capacity    # how much load the API holds
    locust -f loadtests/locustfile.py --headless -u 50 -t 1m --blog-arrival-rate 100  # an open model

This file's own options (accounts, password, read/write mix, think time, pass/fail
thresholds) are in add_blog_options below and under "Custom parameters" in the web UI;
each can also be set through the environment variable named there.

Every response is checked against the API's published OpenAPI schema
(/api/schema/?format=json), which each process that runs users reads when a run starts:
a 200 whose body departs from it is a failure. Before any user starts, the master (or
the only process) checks that the API answers, describes what the users call, has posts
to read and accepts the accounts; if not, it refuses the run and says how to fix it.

After a run the master (or the only process) judges it, and a headless run prints the
verdict last (and puts it at the top of the --html report); the web UI shows it in its
Verdict tab once the run stops, and a start the check refuses as the form's error. The
verdict: a summary, the integrity line "acknowledged N, stored N" (the writes the API
answered 201 to, against how much the post and comment counts grew), the open model's
latencies, the capacity found. A lost write, more failures than --blog-max-fail-ratio, a
p95 above --blog-max-p95-ms (of the requests after the warm-up: every user started and no
login in flight; logins left out), fewer requests than --blog-min-requests, an exception in
this file's code or a refused start make the exit code 1; a capacity search limited by
Locust's own CPU rather than the API's, 3.

--blog-capacity grows the users in steps until the API breaks the SLO or stops gaining
throughput (the capacity search, below). --blog-arrival-rate starts requests at a fixed
rate whether or not earlier ones have been answered (the open model), and also counts
their latency from when each was due, as wrk2 does.

Everything is in this one file so that `--worker -f -` can fetch all of it; the
verdict is the last section.
"""

import html
import itertools
import json
import logging
import os
import random
import socket
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass

import gevent
import requests
from gevent.event import Event
from gevent.lock import Semaphore
import psutil
from locust import FastHttpUser, LoadTestShape, TaskSet, events, task
from locust.runners import (
    STATE_CLEANUP, STATE_RUNNING, STATE_SPAWNING, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner,
)
from locust.html import get_html_report
from locust.stats import CSV_STATS_INTERVAL_SEC, RequestStats, StatsEntry, calculate_response_time_percentile

logger = logging.getLogger(__name__)

LOGIN = "/login/"
CREATE_POST = "/blog/create"
CREATE_COMMENT = "/blog/post/[id]/comment/create"
SCHEMA_URL = "/api/schema/"
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
    # The web UI shows each help text on one line after the field's name, cut where the field
    # ends (about 145 characters in all in a 1280-pixel window): the first words must say it all.
    # Logins are left out of the p95 as each is a password check, slow by design; in the open
    # model it is counted from the planned starts. Not dest="blog_max_p95_ms": the web UI names
    # each field after its dest, split before every digit ("Blog Max P9 5Ms"), and sends the
    # form back under that split name ("blog_max_p9_5ms"), which Locust then ignores.
    parser.add_argument(
        "--blog-max-p95-ms", dest="blog_max_response_time", env_var="BLOG_LOADTEST_MAX_P95_MS", type=int,
        default=500,
        help="Exit code 1 when the p95 response time in ms, logins left out, is above this; the capacity "
             "search's SLO. Default: %(default)s",
    )
    # A run that measured nothing has not passed.
    parser.add_argument(
        "--blog-min-requests", env_var="BLOG_LOADTEST_MIN_REQUESTS", type=int, default=10,
        help="Exit code 1 when the users completed fewer requests than this, logins not counted. "
             "Default: %(default)s",
    )
    # As k6's constant-arrival-rate; latency is also reported from each request's planned start,
    # as wrk2 does. Off, the users wait for each answer (Locust's closed model).
    parser.add_argument(
        "--blog-arrival-rate", env_var="BLOG_ARRIVAL_RATE", type=float, default=0,
        help="Open model: start this many requests a second, answered or not, from a pool of --users users; "
             "0: off. Default: %(default)s",
    )
    # The capacity search (--blog-capacity): users grow in steps until the API breaks the SLO
    # (--blog-max-p95-ms, --blog-max-fail-ratio) or its throughput stops growing; --users and
    # --spawn-rate are then ignored, and --run-time only caps the search. On the parser itself,
    # not in an argument group: Locust puts in its web UI only what parser.add_argument adds.
    parser.add_argument(
        "--blog-capacity", env_var="BLOG_CAPACITY", action="store_true", default=False,
        help="Search for the API's capacity instead of running a fixed number of users.",
    )
    parser.add_argument(
        "--blog-capacity-start-users", env_var="BLOG_CAPACITY_START_USERS", type=int, default=2,
        help="Users in the first step. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-capacity-growth", env_var="BLOG_CAPACITY_GROWTH", type=float, default=1.5,
        help="Each step has this many times the users of the step before (at least one more). "
             "Default: %(default)s",
    )
    parser.add_argument(
        "--blog-capacity-hold", env_var="BLOG_CAPACITY_HOLD", type=float, default=10,
        help="Seconds each step is measured for once its users have settled; up to twice that while it is "
             "not steady. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-capacity-settle", env_var="BLOG_CAPACITY_SETTLE", type=float, default=3,
        help="Seconds between a step's last user starting and its measurement. Default: %(default)s",
    )
    # Such a step is measured twice before it ends the search.
    parser.add_argument(
        "--blog-capacity-min-gain", env_var="BLOG_CAPACITY_MIN_GAIN", type=float, default=0.1,
        help="The knee: a step that gains less than this share of throughput on the one before ends the "
             "search. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-capacity-max-users", env_var="BLOG_CAPACITY_MAX_USERS", type=int, default=10000,
        help="The search ends at this many users whatever it has found. Default: %(default)s",
    )
    parser.add_argument(
        "--blog-capacity-report", env_var="BLOG_CAPACITY_REPORT", default="reports/capacity.json",
        help="Where the search writes its steps and verdict as JSON; empty for none. Default: %(default)s",
    )
    # Locust's web UI shows each help text as written, where only argparse's --help expands
    # %(default)s: write each default into its text once, here, for both. (Relies on Locust's
    # parser keeping the web UI's arguments in args_included_in_web_ui, by dest.)
    for dest, action in parser.args_included_in_web_ui.items():
        if dest.startswith("blog_") and action.help:
            action.help = action.help.replace("%(default)s", str(action.default))


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
    if options.blog_min_requests < 0:
        return f"--blog-min-requests must be at least 0, not {options.blog_min_requests}"
    if options.blog_arrival_rate < 0:
        return f"--blog-arrival-rate must be at least 0 (0 is off), not {options.blog_arrival_rate}"
    if options.blog_arrival_rate and options.blog_capacity:
        return ("--blog-arrival-rate and --blog-capacity cannot be combined: the search grows the users, the "
                "open model fixes the rate. Choose one.")
    if options.blog_capacity:
        return capacity_option_problem(options)
    return None


def username(options, n):
    return options.blog_username_pattern.format(n=n)


# --- What the users do -------------------------------------------------------------------


class BlogUser(FastHttpUser):
    """A visitor on one of the seeded accounts: reading sessions, some writing ones, now and then a login."""

    def wait_time(self):
        options = self.environment.parsed_options
        seconds = random.uniform(options.blog_min_wait, options.blog_max_wait)
        METER.think += seconds  # the capacity search checks each step against Little's law
        return seconds

    def on_start(self):
        options = self.environment.parsed_options
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

    def log_in_again(self):
        """Exercises /login/ itself; rarely, as every call costs the server a password check."""
        if token := log_in(self):
            TOKENS.renew(self, token)


@events.init.add_listener
@events.test_start.add_listener
def mix_sessions(environment, **kwargs):
    """BlogUser's tasks: reading and writing sessions as --blog-write-percent mixes them, a login in 101.

    Again at each run's start: the web UI can change the option between runs, and a worker
    receives it from the master only then.
    """
    options = environment.parsed_options
    writes = options.blog_write_percent
    # A capacity search measures the API, not its deliberately slow password check.
    logins = [] if options.blog_capacity else [BlogUser.log_in_again]
    BlogUser.tasks = [Reader] * (100 - writes) + [Writer] * writes + logins
    if options.blog_arrival_rate:
        BlogUser.tasks = [Arrivals]


class Reader(TaskSet):
    """Reads without logging in: the post list most, then posts, their comments, comments."""

    @task(1)
    class PageThrough(TaskSet):
        """Pages through the lists by following `next`, as a client with an endless scroll does."""

        def on_start(self):
            self.next_url = {"posts": None, "comments": None}

        def follow(self, kind):
            url = self.next_url[kind] or f"/blog/{kind}?limit={PAGE_SIZE}"
            self.next_url[kind] = None  # unless this page checks out, start again from the first
            read_to_the_end = False
            with self.user.rest("GET", url, name=f"/blog/{kind}?limit=[n]&offset=[n]") as resp:
                page = expect_page(resp, f"GET /blog/{kind}")
                here = f"{self.user.host.rstrip('/')}/blog/{kind}?"
                if page["next"] is not None and not page["next"].startswith(here):
                    raise WrongResponse(f"'next' leads away from {here}: {page['next']}")
                self.next_url[kind] = page["next"]
                read_to_the_end = page["next"] is None
            if read_to_the_end:
                self.interrupt(reschedule=False)  # outside `rest`, which would count it a failure

        @task(3)
        def next_post_page(self):
            self.follow("posts")

        @task(2)
        def next_comment_page(self):
            self.follow("comments")

        @task(1)
        def stop_paging(self):
            self.interrupt()

    @task(8)
    def list_posts(self):
        list_posts(self.user)

    @task(4)
    def open_post(self):
        if (post_id := known_post(self.user)) is None:
            return
        with self.user.rest("GET", f"/blog/post/{post_id}", name="/blog/post/[id]") as resp:
            expect_item(resp, "GET /blog/post/{id}", post_id)

    @task(3)
    def read_post_comments(self):
        if (post_id := known_post(self.user)) is None:
            return
        url = f"/blog/post/{post_id}/comments"
        with self.user.rest("GET", url, name="/blog/post/[id]/comments") as resp:
            page = expect_page(resp, "GET /blog/post/{id}/comments")
            if strays := [comment["id"] for comment in page["results"] if comment["post"]["id"] != post_id]:
                raise WrongResponse(f"comments {strays} are listed under post {post_id} but belong to others")
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
        with self.user.rest("GET", f"/blog/comment/{comment_id}", name="/blog/comment/[id]") as resp:
            expect_item(resp, "GET /blog/comment/{id}", comment_id)

    @task(1)
    def stop_reading(self):
        self.interrupt()


class Writer(TaskSet):
    """Writes with the account's token: posts, and comments on posts the API has shown."""

    def on_start(self):
        if TOKENS.token(self.user) is None:
            self.interrupt(reschedule=False)  # the failed login is in the stats; retry next session

    @task(2)
    def create_post(self):
        payload = {"title": text(6), "body": text(60)}
        if post := self.send(CREATE_POST, CREATE_POST, "POST /blog/create", payload, payload):
            self.user.post_ids.append(post["id"])

    @task(4)
    def comment_on_post(self):
        if (post_id := known_post(self.user)) is None:
            return
        payload = {"body": text(20)}
        url = f"/blog/post/{post_id}/comment/create"
        echoed = {**payload, "post": post_id}
        self.send(url, CREATE_COMMENT, "POST /blog/post/{id}/comment/create", payload, echoed)

    @task(1)
    def stop_writing(self):
        self.interrupt()

    def send(self, url, name, operation, payload, echoed):
        """POST with the account's token: the 201's body, holding `echoed`; else None, and a failure."""
        if (token := TOKENS.token(self.user)) is None:
            self.interrupt(reschedule=False)
        created = None
        headers = {"Authorization": f"Token {token}"}
        with self.user.rest("POST", url, name=name, json=payload, headers=headers) as resp:
            if resp.status_code == 201:
                TALLY.acknowledged(name)  # whatever the body says, the API has taken the write
            elif resp.status_code == 401:
                TOKENS.refused(self.user, token)
            body = SCHEMA.expect(resp, operation)
            if wrong := sorted(key for key, value in echoed.items() if body.get(key) != value):
                raise WrongResponse(f"201 but {wrong} are not what was sent: {body!r:.200}")
            self.user.account_id = self.user.account_id or body["user"]
            if body["user"] != self.user.account_id:
                raise WrongResponse(f"201 but written as user {body['user']}, not {self.user.account_id}")
            created = body
        return created


def list_posts(user):
    with user.rest("GET", "/blog/posts") as resp:
        page = expect_page(resp, "GET /blog/posts")
        user.post_ids.extend(post["id"] for post in page["results"])


def list_comments(user):
    with user.rest("GET", "/blog/comments") as resp:
        page = expect_page(resp, "GET /blog/comments")
        user.comment_ids.extend(comment["id"] for comment in page["results"])
        user.post_ids.extend(comment["post"]["id"] for comment in page["results"])


def known_post(user):
    """A post id the API has shown this user, listing posts first if it has shown none; or None."""
    if not user.post_ids:
        list_posts(user)
    return random.choice(user.post_ids) if user.post_ids else None


def text(words):
    return " ".join(random.choices(WORDS, k=words)).capitalize() + "."


# --- The open model (--blog-arrival-rate) ----------------------------------------------
#
# Locust's users are a closed model: each waits for its answer before it sends again, so
# while the server stalls they send nothing, and the requests that would have arrived
# meanwhile are never counted (coordinated omission). With --blog-arrival-rate each
# process keeps a schedule of planned starts, one every 1/rate seconds; a free user
# takes the next one, waits for it if it is ahead, and sends one request. A request
# taken late (every user was busy) still counts from its planned start, as wrk2 counts.


class OpenModel:
    """The planned starts of this process's requests, and their latencies counted from them."""

    def __init__(self):
        self.rate = 0.0
        self.started = 0.0
        self.taken = 0
        self.corrected = StatsEntry(RequestStats(), "from the planned start", "")
        self.spawned = Event()

    def start(self, rate):
        self.rate, self.started, self.taken = rate, None, 0
        self.corrected.reset()
        self.spawned = Event()
        # The first planned start sets it; on a master, the earliest of the workers' (StatsEntry.extend).
        self.corrected.start_time = float("inf")

    def next_start(self):
        if self.started is None:
            # Once every user has started and no login is on the server: their password
            # checks (slow by design) would otherwise be the first seconds' latency.
            self.spawned.wait()
            while METER.logins:
                gevent.sleep(0.05)
        if self.started is None:  # still: the users that waited above start it once
            self.started, self.corrected.start_time = time.monotonic(), time.time()
        planned = self.started + self.taken / self.rate
        self.taken += 1
        return planned

    def summary(self, environment):
        """The open model's figures beside Locust's own for the same requests (logins left out of both)."""
        corrected = self.corrected
        own = take_snapshot(environment)
        own_max = max((entry.max_response_time for (name, _), entry in environment.stats.entries.items()
                       if name != LOGIN), default=0)
        return (
            f"Open model at {self.rate:g} requests/s planned: {corrected.num_requests} sent "
            f"({achieved_rate(corrected):.1f}/s). From each planned start (coordinated omission corrected, "
            f"as wrk2 counts): p50 {percentile(corrected, 0.5)} ms, p95 {percentile(corrected, 0.95)} ms, "
            f"p99 {percentile(corrected, 0.99)} ms, max {corrected.max_response_time:.0f} ms. From when each was "
            f"sent (Locust's own figures, what a closed model reports): "
            + ", ".join(f"p{round(share * 100)} "
                        f"{calculate_response_time_percentile(own.response_times, own.requests, share)} ms"
                        for share in (0.5, 0.95, 0.99))
            + f", max {own_max:.0f} ms."
        )


def achieved_rate(entry):
    if not entry.num_requests or not entry.last_request_timestamp or entry.start_time == float("inf"):
        return 0.0
    return entry.num_requests / max(entry.last_request_timestamp - entry.start_time, 1e-3)


def percentile(entry, share):
    return entry.get_response_time_percentile(share) if entry.num_requests else 0


OPEN_MODEL = OpenModel()
ARRIVAL_READS = [(Reader.list_posts, 8), (Reader.open_post, 4), (Reader.read_post_comments, 3),
                 (Reader.list_comments, 2), (Reader.open_comment, 2)]
ARRIVAL_WRITES = [(Writer.create_post, 2), (Writer.comment_on_post, 4)]


class Arrivals(TaskSet):
    """Open model: one request per planned start, Reader's and Writer's mixed as --blog-write-percent says."""

    send = Writer.send

    def wait_time(self):
        return 0  # the schedule paces the requests

    @task
    def arrive(self):
        planned = OPEN_MODEL.next_start()
        if (ahead := planned - time.monotonic()) > 0:
            gevent.sleep(ahead)
        writes = random.random() * 100 < self.user.environment.parsed_options.blog_write_percent
        actions = ARRIVAL_WRITES if writes else ARRIVAL_READS
        action = random.choices([action for action, _ in actions], [weight for _, weight in actions])[0]
        try:
            action(self)
        finally:
            OPEN_MODEL.corrected.log(round((time.monotonic() - planned) * 1000), 0)


@events.spawning_complete.add_listener
def on_spawning_complete(user_count, **kwargs):
    OPEN_MODEL.spawned.set()


@events.report_to_master.add_listener
def send_corrected(client_id, data):
    data["blog_corrected"] = OPEN_MODEL.corrected.get_stripped_report()


@events.worker_report.add_listener
def add_corrected(client_id, data):
    if "blog_corrected" in data:
        OPEN_MODEL.corrected.extend(StatsEntry.unserialize(data["blog_corrected"], OPEN_MODEL.corrected.stats))


# --- Accounts and their tokens -----------------------------------------------------------


class SharedTokens:
    """One login per account per Locust process, its token shared by the users on that account.

    A password check is deliberately slow on the server (PBKDF2) and DRF keeps one token
    per user, so logging every simulated user in would measure PBKDF2 rather than the API.
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
    """The account's new token; else None, and a failure."""
    token = None
    METER.logins += 1  # the capacity search measures no window while a login is on the server
    try:
        with user.rest("POST", LOGIN, json={"username": user.username, "password": user.password}) as resp:
            body = SCHEMA.expect(resp, "POST /login/")
            if not body["token"]:
                raise WrongResponse("the token is empty")
            token = body["token"]
    finally:
        METER.logins -= 1
    return token


# --- Checking what came back -------------------------------------------------------------
#
# Inside `with user.rest(...) as resp:` Locust parses the JSON body into resp.js and turns
# an AssertionError raised in the block into the request's failure, with its message.

# What the users call, as the schema names each operation, and the status each expects.
OPERATIONS = {
    "POST /login/": 200,
    "GET /blog/posts": 200,
    "GET /blog/post/{id}": 200,
    "GET /blog/post/{id}/comments": 200,
    "GET /blog/comments": 200,
    "GET /blog/comment/{id}": 200,
    "POST /blog/create": 201,
    "POST /blog/post/{id}/comment/create": 201,
}

JSON_TYPES = {
    "object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
    "boolean": bool, "null": type(None),
}


class WrongResponse(AssertionError):
    """A response that is not what the API promises; `rest` records the message as the failure."""


class ApiSchema:
    """The API's OpenAPI schema as this process read it when the run started, and checks against it."""

    def __init__(self):
        self.responses = {}  # operation: the schema of its expected status's JSON body
        self.refs = {}  # every "$ref" in the document: what it points to
        self.problem = "the API's schema was not read: the run did not start through Locust's test_start"

    def load(self, host):
        """Read the schema from the API at `host`; what is wrong, in words that say how to fix it, or None."""
        url = f"{host}{SCHEMA_URL}?format=json"  # drf-spectacular answers YAML unless asked for JSON
        try:
            response = requests.get(url, timeout=30)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            self.problem = (f"Cannot read the API's schema at {url} ({error}): every response is checked "
                            "against it, so the API must publish it there (drf-spectacular's SpectacularAPIView).")
            return self.problem
        responses = {}
        for operation, status in OPERATIONS.items():
            method, path = operation.split(" ", 1)
            try:
                content = document["paths"][path][method.lower()]["responses"][str(status)]["content"]
                responses[operation] = content["application/json"]["schema"]
            except (KeyError, TypeError):
                self.problem = (f"The API's schema at {url} does not describe the JSON body of {operation} "
                                f"answering {status}; the load test calls it and checks the answer against that.")
                return self.problem
        refs = {}
        if dangling := resolve_refs(document, document, refs):
            self.problem = f"The API's schema at {url} refers to {dangling}, which it does not define."
            return self.problem
        self.responses, self.refs, self.problem = responses, refs, None
        return None

    def expect(self, resp, operation):
        """The body of `resp`, when it has the status `operation` expects and matches the schema."""
        if self.problem:
            raise WrongResponse(f"cannot check the response: {self.problem}")
        status = OPERATIONS[operation]
        if resp.status_code != status:
            detail = (resp.text or "")[:200] if resp.status_code else getattr(resp, "error", "")
            raise WrongResponse(f"expected {status}, got {resp.status_code}: {detail}")
        if resp.js is None:
            raise WrongResponse(f"{status} but the body is not JSON: {(resp.text or '')[:200]!r}")
        if problem := self.mismatch(resp.js, self.responses[operation]):
            raise WrongResponse(f"{status} but body{problem}, unlike the API's schema for {operation}")
        return resp.js

    def mismatch(self, value, schema):
        """How `value` departs from `schema` (OpenAPI 3.0 or 3.1), from where in it: " lacks ['url']",
        "[3].user is string, not object"; or None.

        What a client relies on: types, required keys, nested objects and lists. Formats,
        lengths and patterns are rules for what the API accepts, so they are not checked.
        The words name no value, so that Locust counts one failure row per kind of mismatch;
        the place is spelled out only on the way back from one, as checking is on every response.
        """
        if "$ref" in schema:
            schema = self.refs[schema["$ref"]]
        if value is None and schema.get("nullable"):
            return None
        for part in schema.get("allOf", ()):
            if problem := self.mismatch(value, part):
                return problem
        for combination in ("anyOf", "oneOf"):
            options = schema.get(combination)
            if options and all(self.mismatch(value, option) for option in options):
                return f" ({name_json_type(value)}) matches none of its {combination} alternatives"
        if (types := schema.get("type")) is not None:
            if isinstance(types, str):
                if not is_json_type(value, types):
                    return f" is {name_json_type(value)}, not {types}"
            elif not any(is_json_type(value, name) for name in types):  # OpenAPI 3.1 may list several
                return f" is {name_json_type(value)}, not {' or '.join(types)}"
        if isinstance(value, dict):
            if missing := [key for key in schema.get("required", ()) if key not in value]:
                return f" lacks {missing}"
            for key, property_schema in schema.get("properties", {}).items():
                if key in value and (problem := self.mismatch(value[key], property_schema)):
                    return f".{key}{problem}"
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                if problem := self.mismatch(item, schema["items"]):
                    return f"[{index}]{problem}"
        return None


SCHEMA = ApiSchema()


def name_json_type(value):
    return next(name for name in ("null", "boolean", "integer", "number", "string", "array", "object")
                if is_json_type(value, name))


def is_json_type(value, name):
    # bool is a subclass of int in Python, but not a number in JSON.
    return isinstance(value, JSON_TYPES[name]) and (name == "boolean" or not isinstance(value, bool))


def resolve_refs(node, document, refs):
    """Record in `refs` what each "$ref" under `node` points to in `document`; the first that points nowhere."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in refs:
            if (target := follow_pointer(document, ref)) is None:
                return ref
            refs[ref] = target
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        if dangling := resolve_refs(child, document, refs):
            return dangling
    return None


def follow_pointer(document, ref):
    """What a reference like "#/components/schemas/Post" points to in `document`, or None."""
    if not ref.startswith("#/"):
        return None  # in another document: the API publishes one
    target = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return None
        target = target[part]
    return target


def expect_page(resp, operation):
    """A limit/offset page of posts or comments, as the schema describes it."""
    page = SCHEMA.expect(resp, operation)
    if page["next"] is not None and "offset=" not in page["next"]:
        raise WrongResponse(f"'next' is not a limit/offset link: {page['next']!r}")
    return page


def expect_item(resp, operation, item_id):
    """The post or comment `item_id`, as the schema describes it."""
    item = SCHEMA.expect(resp, operation)
    if item["id"] != item_id:
        raise WrongResponse(f"asked for {item_id}, got {item['id']}")
    return item


# --- Start-up check ----------------------------------------------------------------------


def read_counts(host):
    """How many posts and comments the API says it has: the `count` of each list."""
    counts = {}
    for kind in ("posts", "comments"):
        response = requests.get(f"{host}/blog/{kind}", params={"limit": 1}, timeout=10)
        response.raise_for_status()
        counts[kind] = response.json()["count"]
    return counts


def target_problem(environment):
    """Why the API at the host cannot be load tested, in words that say how to fix it; or None.

    Reads the schema into this process's SCHEMA on the way.
    """
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
    if problem := SCHEMA.load(host):
        return problem
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


# =========================================================================================
# The capacity search (--blog-capacity)
# =========================================================================================
#
# CapacitySearch is a LoadTestShape that the master (or the only process) runs. Each step
# holds a number of users; once they have all started and settled, it measures a window
# of Locust's own statistics (every request but logins) and this file's Meter readings:
# throughput, p50/p95/p99, failures, think time and each Locust process's CPU. A step is
# steady when Little's law holds: users = throughput x (response time + think time per
# request). The search ends at the first step that breaks the SLO or barely adds
# throughput (the knee), and its verdict names the last good step.
#
# Relies on, besides the documented LoadTestShape: environment.shape_class is read when a
# run starts (headless: after the init event; web UI: in its /swarm handler, which a Flask
# before_request hook runs ahead of), and shape.runner must be set by whoever installs it.

STEADY_TOLERANCE = 0.25  # Little's law may be this far off (share of the users) in a steady step
MAX_HOLDS = 3  # a step that is not steady is measured for up to this many hold times in all
MIN_STEP_REQUESTS = 30  # fewer requests than this in a window cannot be judged
GENERATOR_BUSY = 0.9  # a Locust process using this share of a core is the limit itself
GENERATOR_LIMIT_EXIT_CODE = 3


def capacity_option_problem(options):
    if options.blog_capacity_start_users < 1:
        return f"--blog-capacity-start-users must be at least 1, not {options.blog_capacity_start_users}"
    if options.blog_capacity_growth <= 1:
        return f"--blog-capacity-growth must be more than 1, not {options.blog_capacity_growth}"
    if options.blog_capacity_hold < 2:
        # Workers report every 3 s (locust.runners.WORKER_REPORT_INTERVAL); a shorter window is mostly lag.
        return f"--blog-capacity-hold must be at least 2 seconds (5 with workers), not {options.blog_capacity_hold}"
    if options.blog_capacity_settle < 0:
        return f"--blog-capacity-settle must be at least 0 seconds, not {options.blog_capacity_settle}"
    if not 0 < options.blog_capacity_min_gain < options.blog_capacity_growth - 1:
        return (f"--blog-capacity-min-gain ({options.blog_capacity_min_gain}) must be above 0 and below what "
                f"the users grow by (--blog-capacity-growth {options.blog_capacity_growth} - 1)")
    if options.blog_capacity_max_users < options.blog_capacity_start_users:
        return (f"--blog-capacity-max-users ({options.blog_capacity_max_users}) must be at least "
                f"--blog-capacity-start-users ({options.blog_capacity_start_users})")
    return None


class Meter:
    """This process's CPU time and the think time its users were given, read at each window's edges."""

    def __init__(self):
        self.process = psutil.Process()
        self.think = 0.0
        self.logins = 0  # in flight

    def read(self):
        if self.process.pid != os.getpid():
            self.process = psutil.Process()  # a worker that --processes forked after this file was loaded
        cpu = self.process.cpu_times()
        return {"cpu": cpu.user + cpu.system, "think": self.think, "logins": self.logins, "time": time.monotonic()}


METER = Meter()
WORKER_METERS = {}  # on a master: each worker's reading, as its last report brought it


@dataclass
class Snapshot:
    time: float
    requests: int
    failures: int
    response_time: float  # the sum, in ms
    response_times: Counter
    meters: dict  # process name: Meter.read()
    logins: int  # completed, and in flight

    @property
    def logins_in_flight(self):
        return sum(reading["logins"] for reading in self.meters.values())


@dataclass
class Step:
    """One step's measured window."""

    users: int
    seconds: float
    requests: int
    failures: int
    rps: float
    p50_ms: int
    p95_ms: int
    p99_ms: int
    mean_ms: float
    think_s: float  # per request
    in_flight: float  # Little's law: rps x (response time + think time), against `users`
    steady: bool
    cpu: dict  # Locust process: share of one core it used
    machine_cpu: float  # share of all cores, everything on this machine
    broke: str = ""  # what about this step ended the search, if it did
    slo_met: bool = True

    @property
    def fail_ratio(self):
        return self.failures / self.requests if self.requests else 0.0

    def line(self):
        cpu = ", ".join(f"{name} {share:.0%}" for name, share in self.cpu.items())
        return (f"{self.users} users: {self.rps:.1f} req/s, p50 {self.p50_ms} ms, p95 {self.p95_ms} ms, "
                f"p99 {self.p99_ms} ms, failures {100 * self.fail_ratio:.2f}% ({self.requests} requests "
                f"in {self.seconds:.0f} s); Little's law {self.in_flight:.1f} in flight"
                f"{'' if self.steady else ' (NOT STEADY)'}; Locust CPU {cpu}; machine CPU {self.machine_cpu:.0%}")


def p95_of(snapshot):
    return calculate_response_time_percentile(snapshot.response_times, snapshot.requests, 0.95)


def take_snapshot(environment):
    response_times = Counter()
    requests = failures = 0
    response_time = 0.0
    logins = 0
    for (name, _method), entry in environment.stats.entries.items():
        if name == LOGIN:
            logins += entry.num_requests
            continue  # logins are PBKDF2 by design: kept out of the windows, never judged
        requests += entry.num_requests
        failures += entry.num_failures
        response_time += entry.total_response_time
        response_times.update(entry.response_times)
    if isinstance(environment.runner, MasterRunner):
        meters = {f"worker {environment.runner.get_worker_index(worker)}": reading
                  for worker, reading in WORKER_METERS.items()}
    else:
        meters = {"locust": METER.read()}
    snapshot = Snapshot(time.monotonic(), requests, failures, response_time, response_times, meters, logins)
    snapshot.logins += snapshot.logins_in_flight
    return snapshot


def measure(users, start, end):
    requests = end.requests - start.requests
    seconds = end.time - start.time
    response_times = end.response_times - start.response_times
    cpu, think = {}, 0.0
    for name, reading in end.meters.items():
        before = start.meters.get(name)
        if before and reading["time"] > before["time"]:
            cpu[name] = (reading["cpu"] - before["cpu"]) / (reading["time"] - before["time"])
            think += reading["think"] - before["think"]
    rps = requests / seconds if seconds else 0.0
    mean_ms = (end.response_time - start.response_time) / requests if requests else 0.0
    think_s = think / requests if requests else 0.0
    in_flight = rps * (mean_ms / 1000 + think_s)
    return Step(
        users=users, seconds=seconds, requests=requests, failures=end.failures - start.failures, rps=rps,
        p50_ms=calculate_response_time_percentile(response_times, requests, 0.5),
        p95_ms=calculate_response_time_percentile(response_times, requests, 0.95),
        p99_ms=calculate_response_time_percentile(response_times, requests, 0.99),
        mean_ms=mean_ms, think_s=think_s, in_flight=in_flight,
        steady=abs(in_flight - users) <= STEADY_TOLERANCE * users, cpu=cpu,
        machine_cpu=psutil.cpu_percent() / 100,  # since the last call: the window's start
    )


class CapacitySearch(LoadTestShape):
    """Users in growing steps, each measured once steady, until the SLO breaks or throughput stops growing."""

    abstract = True  # Locust must not run it unasked: on_init installs it with --blog-capacity

    def __init__(self, environment):
        super().__init__()
        self.environment = environment
        self.runner = environment.runner
        self.reset()

    def reset(self):
        self.steps = []
        self.users = None  # the first tick reads --blog-capacity-start-users: the web UI sets it after reset()
        self.previous_users = 0
        self.phase = "ramp"
        self.since = None
        self.window = None
        self.holds = 1
        self.remeasured = False
        self.restarts = 0
        self.ended = ""  # why the search ended, once it has

    def tick(self):
        if self.ended:
            return None
        options = self.environment.parsed_options
        now = time.monotonic()
        if self.users is None:
            self.users = options.blog_capacity_start_users
        if self.phase == "ramp":
            if self.runner.user_count >= self.users and self.runner.state == STATE_RUNNING:
                self.phase, self.since = "settle", now
        elif self.phase == "settle":
            if take_snapshot(self.environment).logins_in_flight:
                self.since = now  # each login is a deliberately slow password check on the server
            elif now - self.since >= options.blog_capacity_settle:
                self.start_window()
        elif now - self.window.time >= self.holds * options.blog_capacity_hold:
            end = take_snapshot(self.environment)
            if end.logins > self.window.logins and self.restarts < MAX_HOLDS:
                self.restarts += 1
                logger.info("Capacity step %s: logins during the window; measuring it again after them", self.users)
                self.phase, self.since = "settle", now
            else:
                self.judge(measure(self.users, self.window, end))
                if self.ended:
                    return None
        # The new users within about a second (Locust warns above 100 a second).
        spawn_rate = min(max(self.users - self.previous_users, options.spawn_rate or 1), 100)
        return self.users, spawn_rate

    def start_window(self):
        psutil.cpu_percent()  # starts the machine's CPU count for measure()
        self.phase, self.window, self.holds = "hold", take_snapshot(self.environment), 1

    def judge(self, step):
        options = self.environment.parsed_options
        if (step.requests < MIN_STEP_REQUESTS or not step.steady) and self.holds < MAX_HOLDS:
            self.holds += 1
            logger.info("Capacity step %s: %s; holding it longer", self.users,
                        "too few requests to judge" if step.requests < MIN_STEP_REQUESTS
                        else f"not steady (Little's law: {step.in_flight:.1f} in flight of {step.users} users)")
            return
        previous = self.steps[-1] if self.steps else None
        if step.p95_ms > options.blog_max_response_time:
            step.broke = f"p95 {step.p95_ms} ms is over the SLO's {options.blog_max_response_time} ms"
            step.slo_met = False
        elif step.fail_ratio > options.blog_max_fail_ratio:
            step.broke = (f"{100 * step.fail_ratio:.2f}% of requests failed, over the SLO's "
                          f"{100 * options.blog_max_fail_ratio:g}%")
            step.slo_met = False
        elif previous and step.rps < previous.rps * (1 + options.blog_capacity_min_gain):
            if not self.remeasured:
                # One noisy window must not end the search: measure the step again first.
                self.remeasured = True
                logger.info("Capacity step %s; measuring it again", step.line())
                self.start_window()
                return
            step.broke = (f"throughput {step.rps:.1f} req/s is only {100 * (step.rps / previous.rps - 1):+.0f}% "
                          f"over {previous.users} users' {previous.rps:.1f} (the knee)")
        self.steps.append(step)
        logger.info("Capacity step %s", step.line() + (f": {step.broke}" if step.broke else ""))
        if step.broke:
            self.ended = step.broke
        elif self.users >= options.blog_capacity_max_users:
            self.ended = f"the search reached --blog-capacity-max-users {options.blog_capacity_max_users}"
        else:
            self.previous_users = self.users
            self.users = min(max(self.users + 1, round(self.users * options.blog_capacity_growth)),
                             options.blog_capacity_max_users)
            self.phase, self.remeasured, self.restarts = "ramp", False, 0

    def verdict(self):
        """The capacity lines, the exit code they call for, and the same as data for the report."""
        options = self.environment.parsed_options
        slo = f"SLO: p95 <= {options.blog_max_response_time} ms, failures <= {100 * options.blog_max_fail_ratio:g}%"
        good = [step for step in self.steps if step.slo_met]  # the knee's step too: it met the SLO
        best = max(good, key=lambda step: step.rps) if good else None
        last = self.steps[-1] if self.steps else None
        self.users = self.users or options.blog_capacity_start_users
        why = self.ended or "the run stopped before the search found a limit (--run-time, Ctrl-C or the web UI)"
        if best:
            lines = [f"Capacity: {best.rps:.1f} req/s at {best.users} users, p95 {best.p95_ms} ms ({slo}); "
                     f"at {last.users if last and last.broke else self.users} users: {why}"]
        else:
            lines = [f"Capacity: not found: no step met the SLO ({slo}); at "
                     f"{last.users if last else self.users} users: {why}"]
        code = 0 if best and self.ended else 1
        busy = {name: share for step in filter(None, (best, last)) for name, share in step.cpu.items()
                if share >= GENERATOR_BUSY}
        if busy:
            lines.append(
                "The load generator was the limit, not the API: "
                + ", ".join(f"{name} used {share:.0%} of a core" for name, share in busy.items())
                + ". Run Locust with --processes N (a core each), or workers on another machine, and search again.")
            code = GENERATOR_LIMIT_EXIT_CODE
        data = {
            "verdict": lines, "exit_code": code, "ended": why, "slo": slo,
            "capacity": asdict(best) if best else None,
            "steps": [asdict(step) for step in self.steps],
            "options": {key: value for key, value in vars(options).items()
                        if key.startswith("blog_capacity") or key in ("blog_max_response_time", "blog_max_fail_ratio",
                                                                      "blog_min_wait", "blog_max_wait",
                                                                      "blog_write_percent", "host")},
        }
        return lines, code, data


SEARCH = None  # the CapacitySearch of this run, on the master or the only process


@events.init.add_listener
def install_capacity_search(environment, **kwargs):
    global SEARCH
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    SEARCH = CapacitySearch(environment)
    if environment.parsed_options.blog_capacity:
        environment.shape_class = SEARCH
    if environment.web_ui:
        @environment.web_ui.app.before_request
        def choose_shape():
            from flask import request  # Locust's web UI is Flask; the import is only needed there
            if request.path == "/swarm" and request.method == "POST":
                chosen = request.form.get("blog_capacity", "false") == "true"
                environment.shape_class = SEARCH if chosen else None
                SEARCH.reset()


@events.report_to_master.add_listener
def send_meter(client_id, data):
    data["blog_meter"] = METER.read()


@events.worker_report.add_listener
def keep_meter(client_id, data):
    if "blog_meter" in data:
        WORKER_METERS[client_id] = data["blog_meter"]


def write_capacity_report(path, data):
    if not path:
        return
    if folder := os.path.dirname(path):
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2)
    logger.info("Capacity report written to %s", path)


# =========================================================================================
# The verdict: the write tally, the integrity check, the gates and the exit code
# =========================================================================================
#
# Each process that runs users (the only one, or each worker) tallies the writes the API
# acknowledged. A worker says it has joined a run with a custom message, and sends its
# tally with Locust's reports to the master: the first report after the worker stopped
# holds its final stats and its final tally. The judge (the only process, or the master)
# compares the sum with how much the API's counts grew.
#
# Relies on these Locust internals, for want of a documented way; check each on a Locust upgrade:
# - Refusing a run from test_start: the listener spawns runner.quit() (headless) or
#   runner.stop() and raises gevent.GreenletExit, which ends runner.start() quietly before it
#   spawns a user or sends work to a worker. StopTest, the documented way, stops a local
#   runner (with a traceback) but escapes a master's start(), which then idles until
#   --run-time; runner.quit() called inside the listener leaves a local runner idling.
# - A worker's final report: when the master quits (--run-time, Ctrl-C, SIGTERM), the worker
#   stops and sends it at once, and MasterRunner.quit() listens a moment longer for it; after
#   a stop from the web UI it comes with the worker's next regular report. FINAL_REPORT_WAIT
#   must exceed the interval between those (locust.runners.WORKER_REPORT_INTERVAL).
# - The accounts are spread over workers with runner.worker_index and
#   parsed_options.expect_workers (the master forwards it to its workers).
# - mix_sessions sets BlogUser.tasks as a list, weights by repetition: Locust turns a dict of
#   weights into a list only when it creates the class.

JOINED_MESSAGE = "blog_joined"
FINAL_REPORT_WAIT = 10  # seconds


class WriteTally:
    """The writes the API acknowledged with 201 in this process during the current run."""

    def __init__(self):
        self.counts = {"posts": 0, "comments": 0}
        self.state = "idle"  # "running", "stopped", then on a worker "reported" once the master has it

    def start(self):
        self.counts = {"posts": 0, "comments": 0}
        self.state = "running"

    def acknowledged(self, name):
        self.counts["posts" if name == CREATE_POST else "comments"] += 1


TALLY = WriteTally()


class RunVerdict:
    """What the master, or the only process, needs to judge one run once it has stopped."""

    def __init__(self):
        self.counts_before = None
        self.tallies = {}  # by worker that joined: its last tally, or None before its first report
        self.all_final = Event()
        self.problems = []
        self.reporter = None
        self.lines = []  # (logging level, text): the verdict, told at the end of a headless run
        self.capacity = []  # the capacity search's lines, told last
        self.capacity_code = 0
        self.warm = None  # the stats' Snapshot when the warm-up ended (watch_warm_up)
        self.gates = None  # (problems, exit code) from gate_problems, once judged_gates has judged the run

    def waiting(self):
        """The workers in this run whose final tally has not arrived."""
        return sorted(worker for worker, tally in self.tallies.items() if not (tally and tally["final"]))


VERDICT = RunVerdict()  # replaced at each run's start: a report still waiting judges its own run


def tell(environment, level, text):
    """A line of the verdict: logged now in the web UI (its Logs tab), at the very end when headless."""
    VERDICT.lines.append((level, text))
    if not environment.parsed_options.headless:
        logger.log(level, text)


def refuse_run(environment, message):
    """Fail the run with the message and stop it: quit when headless, back to the web UI's start otherwise."""
    first = not VERDICT.problems
    VERDICT.problems.append(message)
    VERDICT.lines.append((logging.ERROR, message))  # logged now, and again in a headless run's verdict
    logger.error(message)
    if first:
        runner = environment.runner
        gevent.spawn(runner.quit if environment.parsed_options.headless else runner.stop)


@events.init.add_listener
def on_init(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(JOINED_MESSAGE, on_worker_joined)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    global VERDICT
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        problem = SCHEMA.load(environment.host)  # the master has checked the target, not for this process
        TALLY.start()
        options = environment.parsed_options
        OPEN_MODEL.start(options.blog_arrival_rate / max(options.expect_workers, 1))  # each worker its share
        runner.send_message(JOINED_MESSAGE, {"problem": problem})
        return
    VERDICT = RunVerdict()
    if problem := option_problem(environment.parsed_options) or target_problem(environment):
        refuse_run(environment, problem)
        WEB_VERDICT.refused(problem)
        raise gevent.GreenletExit  # ends runner.start() before any user starts (see "Relies on")
    VERDICT.counts_before = read_counts(environment.host)
    WEB_VERDICT.running()
    gevent.spawn(watch_warm_up, environment, VERDICT)
    OPEN_MODEL.start(environment.parsed_options.blog_arrival_rate)  # on a master: where workers' figures add up
    if not isinstance(runner, MasterRunner):
        TALLY.start()  # the only process runs the users itself


def watch_warm_up(environment, verdict):
    """Take the snapshot that ends the run's warm-up: every user started, and no login in flight.

    The users' first logins (a password check each, slow by design) slow every request
    around them on the server; the p95 gate judges the requests after them (gate_problems),
    so that a short run is not failed by its start alone.
    """
    runner, started = environment.runner, False
    while verdict is VERDICT:  # a new run has a new verdict
        state = runner.state
        started = started or state in (STATE_SPAWNING, STATE_RUNNING)  # at test_start it may still say stopped
        if started and state in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
            return
        if state == STATE_RUNNING and not (snapshot := take_snapshot(environment)).logins_in_flight:
            verdict.warm = snapshot
            return
        gevent.sleep(0.2)


def after_warm_up(environment, verdict, end):
    """(requests, p95 in ms) of the requests between the warm-up's end and `end`, logins left out; None before."""
    if verdict.warm is None:
        return None
    requests = end.requests - verdict.warm.requests
    return requests, calculate_response_time_percentile(end.response_times - verdict.warm.response_times,
                                                        requests, 0.95)


def on_worker_joined(environment, msg, **kwargs):
    VERDICT.tallies[msg.node_id] = None
    VERDICT.all_final.clear()
    if problem := msg.data["problem"]:
        refuse_run(environment, f"Worker {msg.node_id}: {problem}")


@events.report_to_master.add_listener
def on_report_to_master(client_id, data):
    if TALLY.state in ("running", "stopped"):
        data["blog_writes"] = {"counts": dict(TALLY.counts), "final": TALLY.state == "stopped"}
    if TALLY.state == "stopped":
        TALLY.state = "reported"  # once only, so that it cannot be taken for the next run's


@events.worker_report.add_listener
def on_worker_report(client_id, data):
    if "blog_writes" in data and client_id in VERDICT.tallies:
        VERDICT.tallies[client_id] = data["blog_writes"]
        if not VERDICT.waiting():
            VERDICT.all_final.set()


@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    if TALLY.state == "running":
        TALLY.state = "stopped"
    if isinstance(environment.runner, WorkerRunner) or VERDICT.counts_before is None:
        return
    # In a greenlet: a master's workers send their final reports only after this event.
    VERDICT.reporter = gevent.spawn(judge_run, environment, VERDICT)


def judge_run(environment, verdict):
    """Judge the run, then show the verdict in the web UI (whatever happened to the judging)."""
    try:
        report_run(environment, verdict)
    finally:
        WEB_VERDICT.show(web_verdict_lines(environment, verdict))


def acknowledged_writes(environment, verdict):
    """This process's tally; on a master the sum of its workers' final tallies, and their number."""
    if not isinstance(environment.runner, MasterRunner):
        return dict(TALLY.counts), ""
    if verdict.waiting() and not verdict.all_final.wait(timeout=FINAL_REPORT_WAIT):
        logger.warning("No final tally from workers %s: counting their last reports", verdict.waiting())
    tallies = [tally["counts"] for tally in verdict.tallies.values() if tally]
    totals = {kind: sum(tally[kind] for tally in tallies) for kind in ("posts", "comments")}
    return totals, f" (totals of {len(tallies)} worker{'' if len(tallies) == 1 else 's'})"


def stored_writes(environment, verdict):
    """How much each count grew in the run.

    The API's counts are exact and a 201 is sent only after its commit, so one read
    after the run has stopped holds every acknowledged write.
    """
    after = read_counts(environment.host)
    return {kind: after[kind] - verdict.counts_before[kind] for kind in after}


def report_run(environment, verdict):
    # First the final tallies: a worker's final stats come in the same report.
    acknowledged, source = acknowledged_writes(environment, verdict)
    total = environment.stats.total
    # The report's Aggregated row, then what the p95 gate judges: the same requests but the logins.
    without_logins = take_snapshot(environment)
    tell(environment, logging.INFO,
         f"Summary: {total.num_requests} requests, {total.num_failures} failed ({100 * total.fail_ratio:.2f}%), "
         f"{total.total_rps:.1f} requests/s, median {total.median_response_time} ms, "
         f"p95 {total.get_response_time_percentile(0.95)} ms (the report's Aggregated row); without its "
         f"{total.num_requests - without_logins.requests} logins (a deliberately slow password check each): "
         f"p95 {p95_of(without_logins)} ms" + ("" if (warm := after_warm_up(environment, verdict, without_logins))
                                                 is None else
                                                 f"; after the warm-up, {warm[0]} requests: p95 {warm[1]} ms"))
    line = f"Integrity{source}: acknowledged {sum(acknowledged.values())}"
    try:
        stored = stored_writes(environment, verdict)
    except (requests.RequestException, ValueError, KeyError) as error:
        verdict.problems.append(f"{line}, stored unknown: cannot read the counts ({error})")
        tell(environment, logging.ERROR, verdict.problems[-1])
        return
    line += f", stored {sum(stored.values())} ("
    line += ", ".join(f"{kind} {stored[kind]} of {acknowledged[kind]}" for kind in ("posts", "comments"))
    line += ")"
    if lost := sum(max(acknowledged[kind] - stored[kind], 0) for kind in stored):
        verdict.problems.append(f"{line}: {lost} acknowledged writes LOST")
        tell(environment, logging.ERROR, verdict.problems[-1])
    elif extra := sum(stored.values()) - sum(acknowledged.values()):
        tell(environment, logging.INFO,
             f"{line}: no writes lost ({extra} more stored: cut off by the stop, or other clients)")
    else:
        tell(environment, logging.INFO, f"{line}: no writes lost")
    if environment.shape_class is SEARCH and SEARCH is not None:
        # Here rather than at quitting: in the web UI a search ends with the run, not the process.
        verdict.capacity, verdict.capacity_code, data = SEARCH.verdict()
        write_capacity_report(environment.parsed_options.blog_capacity_report, data)
        if not environment.parsed_options.headless:
            for text in verdict.capacity:
                logger.info(text)


@events.quitting.add_listener
def on_quitting(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    if runner.state in (STATE_SPAWNING, STATE_RUNNING):
        runner.stop()  # quit mid-run (web UI, Ctrl-C, SIGTERM): judge the run that was going on
    if VERDICT.reporter is not None:
        # Long enough for the workers' final reports and the count reads (10 s timeouts).
        VERDICT.reporter.join(timeout=60)
    options = environment.parsed_options
    if not options.headless and VERDICT.counts_before is None and not VERDICT.problems:
        return  # the web UI ran nothing: nothing to judge, and exit code 0
    if options.blog_arrival_rate and VERDICT.counts_before is not None:
        tell(environment, logging.INFO, OPEN_MODEL.summary(environment))
    problems, code = judged_gates(environment, VERDICT)
    for problem in problems:
        tell(environment, logging.ERROR, f"Load test failed: {problem}")
    environment.process_exit_code = 1 if problems or VERDICT.problems else code
    if options.csv_prefix:
        # Locust rewrites its CSV files every CSV_STATS_INTERVAL_SEC: once more, with the final figures.
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.5)


def judged_gates(environment, verdict):
    """gate_problems() of the run, worked out once: the terminal's verdict and the web UI's Verdict tab tell the
    same judgement."""
    if verdict.gates is None:
        verdict.gates = gate_problems(environment, verdict)
    return verdict.gates


def gate_problems(environment, verdict):
    """What the run failed besides its integrity, in words that say how to fix it; and the exit code the capacity
    search calls for."""
    options = environment.parsed_options
    total = environment.stats.total
    problems = []
    logins = environment.stats.entries.get((LOGIN, "POST"))
    measured = total.num_requests - (logins.num_requests if logins else 0)
    if not verdict.problems and measured < options.blog_min_requests:
        problems.append(f"the users completed {measured} requests besides logins, fewer than --blog-min-requests "
                        f"{options.blog_min_requests}: the run measured too little to judge (a longer --run-time, "
                        "or more users; on a busy machine the start-up check and logins take longer)")
    open_model = options.blog_arrival_rate and verdict.counts_before is not None
    if environment.shape_class is SEARCH and SEARCH is not None and verdict.counts_before is not None:
        # The SLO is judged step by step (report_run): the last step breaks it by design.
        code = verdict.capacity_code
    else:
        code = 0
        if total.fail_ratio > options.blog_max_fail_ratio:
            problems.append(f"{100 * total.fail_ratio:.2f}% of requests failed, more than "
                            f"--blog-max-fail-ratio {options.blog_max_fail_ratio}")
        # Logins are left out: each is a password check, slow by design (about 0.3-1 s).
        # In the open model the p95 that counts is the one from the planned starts.
        # After the warm-up (every user started, their first logins done) when enough came after it.
        end = take_snapshot(environment)
        warm = after_warm_up(environment, verdict, end)
        warmed = warm is not None and warm[0] >= options.blog_min_requests
        if open_model:
            judged, p95 = "from the planned starts", percentile(OPEN_MODEL.corrected, 0.95)
        elif warmed:
            judged, p95 = "after the warm-up, logins left out", warm[1]
        else:
            judged, p95 = "of every request but logins, the warm-up included", p95_of(end)
        if p95 > options.blog_max_response_time:
            problems.append(f"p95 response time {judged}, {p95} ms, is over --blog-max-p95-ms "
                            f"{options.blog_max_response_time}" + (
                                " (the run hardly got past its warm-up, whose logins slow every request: "
                                "a longer --run-time)" if not (open_model or warmed) and logins and logins.num_requests
                                else ""))
    if errors := sum(row["count"] for row in environment.runner.exceptions.values()):
        problems.append(f"the users' code raised {errors} exceptions (tracebacks above, and in the report's "
                        "Exceptions tab): the locustfile is broken, whatever the API did")
    return problems, code


@events.quit.add_listener
def tell_the_verdict(exit_code, **kwargs):
    """After Locust's own tables: the verdict is the last thing a headless run prints, and is in its report."""
    environment = ENVIRONMENT[0]
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or not VERDICT.lines and not VERDICT.problems:
        return
    headline = f"Verdict: {VERDICT_NAMES.get(exit_code, 'FAILED')} (exit code {exit_code})"
    # The capacity search's answer is the run's last word.
    lines = VERDICT.lines + [(logging.INFO, text) for text in VERDICT.capacity]
    if options.html_file:
        write_html_report(environment, options.html_file, [headline, *(text for _, text in lines)])
        lines.insert(0, (logging.INFO, f"Report: {options.html_file}"))
    if options.headless:
        logger.info(headline)
        for level, text in lines:
            logger.log(level, text)


VERDICT_NAMES = {0: "PASSED", 1: "FAILED", GENERATOR_LIMIT_EXIT_CODE: "THE LOAD GENERATOR WAS THE LIMIT"}
ENVIRONMENT = []  # Locust's quit event names no environment


@events.init.add_listener
def remember_environment(environment, **kwargs):
    ENVIRONMENT[:] = [environment]


def write_html_report(environment, path, lines):
    """Locust's HTML report, written again now that the verdict is known, with the verdict at its top.

    Locust writes it before the quitting event, and not at all after a SIGTERM.
    """
    report = get_html_report(environment, show_download_link=False)
    verdict = "".join(f"<div>{html.escape(line)}</div>" for line in lines)
    block = (f'<section id="blog-verdict" style="font: 14px/1.5 monospace; padding: 12px 16px; '
             f'background: #f4f4f4; color: #111; border-bottom: 1px solid #ccc;">{verdict}</section>')
    marker = '<div id="root"></div>'
    if marker not in report:
        logger.warning("Locust's HTML report has no %s to put the verdict before: %s has none", marker, path)
        return
    if folder := os.path.dirname(path):
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(report.replace(marker, block + marker, 1))


# =========================================================================================
# The verdict in the web UI
# =========================================================================================
#
# The web UI shows each run's verdict in a tab of its own, and a refused start as the form's
# error: where the person who pressed Start is looking. The tab comes through the modern web
# UI's extension points, as Locust's examples/extend_modern_web_ui.py uses them: template_args
# "extended_tabs" and "extended_tables" add a table, whose rows an after_request hook adds to
# /stats/requests as "extended_stats".
#
# Relies on, besides, for want of a documented way; check each on a Locust upgrade:
# - web_ui.template_args persists between the UI's update_template_args() calls, so the tab
#   is on the UI's own page rather than on a second route as in the example.
# - The UI asks for /stats/requests only while a run spawns or runs, and stops at the first
#   answer that says otherwise: a before_request hook holds the answers while a run stops until
#   its verdict is known. (Locust caches that answer 2 s: one that still says "running" may
#   come with the verdict; the next says "stopped".)
# - A /swarm answer {"success": false, "message": ...} keeps the form open with the message
#   under it: an after_request hook holds the answer until the start-up check has decided.
# - The form names each field after its option's dest in camelCase and sends it back split
#   before every capital and digit: no dest has a digit (see --blog-max-p95-ms).

VERDICT_TAB = "verdict"
# Seconds: the start-up check's and the count reads' timeouts, and a master's wait for final reports.
WEB_VERDICT_WAIT = 90


class WebVerdict:
    """What the web UI's Verdict tab shows, and whether the run it is about has been decided yet."""

    def __init__(self):
        self.lines = ["No run yet: each run's verdict shows here once it stops."]
        self.refusal = None
        self.settled = Event()  # clear while a run's start-up check or its judging is going on
        self.settled.set()

    def starting(self):
        self.lines, self.refusal = ["Starting: the start-up check is looking at the API."], None
        self.settled.clear()

    def refused(self, problem):
        self.lines, self.refusal = ["Verdict: REFUSED (the run did not start)", problem], problem
        self.settled.set()

    def running(self):
        self.lines = ["Running: the verdict shows here once the run stops."]
        self.settled.set()

    def judging(self):
        self.lines = ["Stopping: the verdict shows here once the run is judged."]
        self.settled.clear()

    def show(self, lines):
        self.lines = lines
        self.settled.set()


WEB_VERDICT = WebVerdict()


@events.test_stopping.add_listener
def on_test_stopping(environment, **kwargs):
    # From the first moment of the stop: a master may say "stopped" before its test_stop event.
    if not isinstance(environment.runner, WorkerRunner) and VERDICT.counts_before is not None:
        WEB_VERDICT.judging()


def web_verdict_lines(environment, verdict):
    """The verdict as a headless run prints it, judged as soon as the run has stopped, and the gates it was held to."""
    options = environment.parsed_options
    problems, code = judged_gates(environment, verdict)
    code = 1 if problems or verdict.problems else code
    lines = [f"Verdict: {VERDICT_NAMES.get(code, 'FAILED')} (exit code {code})"]
    lines += [text for _, text in verdict.lines]
    if options.blog_arrival_rate:
        lines.append(OPEN_MODEL.summary(environment))
    lines += [f"Load test failed: {problem}" for problem in problems]
    lines += verdict.capacity
    if not verdict.capacity:
        lines.append(f"Gates: no acknowledged write lost; failures <= {100 * options.blog_max_fail_ratio:g}% "
                     f"(--blog-max-fail-ratio); p95 after the warm-up, logins left out, <= {options.blog_max_response_time} ms "
                     f"(--blog-max-p95-ms); requests besides logins >= {options.blog_min_requests} "
                     "(--blog-min-requests)")
    return lines


@events.init.add_listener
def show_the_verdict_in_the_web_ui(environment, web_ui=None, **kwargs):
    if web_ui is None:
        return
    check_web_port(web_ui)
    from flask import g, request  # Locust's web UI is Flask; only it needs the import

    runner = environment.runner
    web_ui.template_args["extended_tabs"] = [{"title": "Verdict", "key": VERDICT_TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": VERDICT_TAB, "structure": [{"key": "text", "title": "The last run's verdict"}]},
    ]

    @web_ui.app.before_request
    def hold_until_decided():
        if request.path == "/swarm" and request.method == "POST":
            g.blog_starts = runner.state not in (STATE_SPAWNING, STATE_RUNNING)  # else the form edits a run
            if g.blog_starts:
                WEB_VERDICT.starting()
        elif request.path == "/stats/requests":
            deadline = time.monotonic() + WEB_VERDICT_WAIT
            while (runner.state in (STATE_CLEANUP, STATE_STOPPING) or not WEB_VERDICT.settled.is_set()) \
                    and time.monotonic() < deadline:
                gevent.sleep(0.1)

    @web_ui.app.after_request
    def add_the_verdict(response):
        if request.path == "/stats/requests" and response.is_json:
            rows = [{"text": line} for line in WEB_VERDICT.lines]
            response.set_data(json.dumps({**response.json, "extended_stats": [{"key": VERDICT_TAB, "data": rows}]}))
        elif request.path == "/swarm" and g.get("blog_starts") and response.is_json:
            if not response.json["success"]:
                WEB_VERDICT.show([f"The run did not start: {response.json['message']}"])
            elif WEB_VERDICT.settled.wait(timeout=WEB_VERDICT_WAIT) and WEB_VERDICT.refusal:
                response.set_data(json.dumps({"success": False, "host": environment.host,
                                              "message": f"The run did not start: {WEB_VERDICT.refusal}"}))
        return response


def check_web_port(web_ui):
    """Stop with one line and exit code 1 when the web UI's port is taken, where Locust prints two tracebacks and
    shuts down."""
    shown = web_ui.host or "0.0.0.0"
    with socket.socket(socket.AF_INET6 if ":" in shown else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gevent's server binds it
        try:
            probe.bind((web_ui.host, web_ui.port))
        except OSError as error:
            raise SystemExit(
                f"Locust's web UI cannot listen on {shown}:{web_ui.port}: {error.strerror.lower()}. Stop what "
                f"listens there (another Locust?), or choose another port: --web-port, or LOCUST_WEB_PORT "
                f"(make run LOCUST_WEB_PORT={web_ui.port + 1})."
            ) from None


@events.init.add_listener
def quiet_ctrl_c(environment, **kwargs):
    # Ctrl-C reaches Locust as a KeyboardInterrupt in gevent's hub, which prints it bare (a
    # line and a timestamp) before Locust catches it and shuts down as after --run-time: the
    # verdict then comes last as usual. Hub.NOT_ERROR, gevent's documented knob, drops that print.
    hub = gevent.get_hub()
    if not issubclass(KeyboardInterrupt, hub.NOT_ERROR):
        hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)
