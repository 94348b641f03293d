"""`make story`: the tutorial's stages under load, each as Locust's capacity search finds it.

    python -m benchmarks.story.run [--posts 5000] [--hold 6] [--minutes 15] [--tiny]

Each stage (benchmarks/story/views.py; 4 is this API) is served in turn the same way
(blogproject.serve: granian, 2 workers, production settings) on the same seeded SQLite
file, and loaded by the same scenario (benchmarks/story/story_users.py: the list, and
post details). Then the tutorial's own run on that stage: 5 users spawned at 2 a second on
the full list (stages 1 and 2), 250 on the paginated list (3 and 4). Prints each stage as it
finishes; writes reports/story.json, story.md and story.png. Ctrl-C stops every server.

Bounded: the whole run keeps to --minutes (15). Stage 1's search stops at 8 users (each of
its lists costs about a second of CPU); each later search starts at half the users the
stage before held, not at 1; and each search's --run-time is what the budget leaves after
the tutorial runs still to come, so a slow stage ends its search early (its verdict says
the run ended first) instead of running late.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import Server

PROJECT = Path(__file__).resolve().parents[2]
REPORTS = PROJECT / "reports"  # --reports changes it
DATA = PROJECT / "benchmarks" / ".data"  # --data changes it
SLO_MS = 2000  # one SLO for all stages: the first stage takes about a second a list
# Seconds each stage spends outside its Locust runs (the server's start and graceful stop,
# Locust's start-up), reserved in the time budget; and the least a search is given.
STAGE_OVERHEAD = 15
MIN_SEARCH_SECONDS = 30
STAGES = {
    "1": "every post, no select_related",
    "2": "every post, select_related",
    "3": "textbook DRF: paginated",
    "4": "this API",
}
# The tutorial's published ranges, for its scenario on each stage.
TUTORIAL = {"1": "19–29 s", "2": "0.6–2.3 s", "3": "0.008–0.17 s", "4": "0.008–0.17 s"}
LIST_URLS = {"1": "/story/1/posts", "2": "/story/2/posts", "3": "/story/3/posts", "4": "/blog/posts"}


def environment(database):
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))},
        "DJANGO_SETTINGS_MODULE": "benchmarks.story.settings",
        "DJANGO_DEBUG": "0", "DJANGO_HTTPS": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{database}",
    }


def prepare(posts):
    """The story's SQLite file with `posts` posts and as many comments, made once."""
    database = DATA / f"story-{posts}.sqlite3"
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        env = environment(database)
        for command in (["migrate", "--noinput", "-v0"],
                        ["seed_blog", "--posts", str(posts), "--comments", str(posts), "--seed", "1", "-v0"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=PROJECT, env=env, check=True)
    return database


def queries_per_list(database):
    """How many SQL statements each stage's list costs, counted in a process of its own."""
    script = (
        "import json, django; django.setup()\n"
        "from django.db import connection; from django.test import Client\n"
        "from django.test.utils import CaptureQueriesContext\n"
        f"urls = {LIST_URLS!r}; counts = {{}}\n"
        "for stage, url in urls.items():\n"
        "    with CaptureQueriesContext(connection) as captured:\n"
        "        assert Client().get(url, HTTP_HOST='127.0.0.1').status_code == 200\n"
        "    counts[stage] = len(captured)\n"
        "print(json.dumps(counts))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, env=environment(database),
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.splitlines()[-1])


def locust(server, stage, label, *options):
    """Run the story's scenario headless on `stage`; its exit code and final stats by name."""
    json_file = REPORTS / f"story-stats-{label}"
    command = [sys.executable, "-m", "locust", "-f", "benchmarks/story/story_users.py", "--headless",
               "--only-summary", "--host", server.url, "--story-stage", stage, "--json-file", str(json_file),
               "--blog-max-p95-ms", str(SLO_MS), *options]
    with open(REPORTS / f"story-{label}.log", "w") as log:
        code = subprocess.run(command, cwd=PROJECT, env={**os.environ, "PYTHONPATH": str(PROJECT)},
                              stdout=log, stderr=subprocess.STDOUT).returncode
    entries = json.loads(Path(f"{json_file}.json").read_text()) if Path(f"{json_file}.json").exists() else []
    return code, {entry["name"]: entry for entry in entries}


def percentile(entry, share):
    """The response time below which `share` of the entry's requests finished, from Locust's histogram."""
    times = sorted((int(ms), count) for ms, count in entry["response_times"].items())
    wanted, seen = share * sum(count for _, count in times), 0
    for ms, count in times:
        seen += count
        if seen >= wanted:
            return ms
    return 0


def run_stage(database, stage, args, start_users, search_seconds):
    """One stage served, searched from start_users for at most search_seconds, then the tutorial's run on it."""
    with Server(environment(database), 2, ready_path="/health", log=REPORTS / "story-server.log") as server:
        report = REPORTS / f"story-capacity-{stage}.json"
        max_users = args.stage1_max_users if stage == "1" else args.max_users
        locust(server, stage, f"capacity-{stage}", "--blog-capacity",
               "--blog-capacity-start-users", str(min(start_users, max_users)),
               "--blog-capacity-growth", "2", "--blog-capacity-hold", str(args.hold), "--blog-capacity-settle", "2",
               "--blog-capacity-max-users", str(max_users), "--blog-capacity-report", str(report),
               "--run-time", str(search_seconds))
        capacity = json.loads(report.read_text()) if report.exists() else {"capacity": None, "verdict": []}
        users, seconds = tutorial_run(stage, args)
        _, stats = locust(server, stage, f"tutorial-{stage}", "--story-only-list", "--users", str(users),
                          "--spawn-rate", str(args.tutorial_spawn_rate), "--run-time", f"{seconds}s",
                          "--blog-min-requests", "1")
    listed = stats.get("posts")
    tutorial = {"users": users, "requests": listed["num_requests"] if listed else 0,
                "p50_ms": percentile(listed, 0.5) if listed else None,
                "p95_ms": percentile(listed, 0.95) if listed else None}
    return {"stage": stage, "name": STAGES[stage], "capacity": capacity["capacity"],
            "verdict": capacity["verdict"], "capped_at_users": max_users, "started_at_users": start_users,
            "search_seconds": search_seconds, "tutorial": tutorial, "tutorial_published": TUTORIAL[stage]}


def tutorial_run(stage, args):
    """The tutorial's own run on a stage: (users, seconds); the full list on 1 and 2, the paginated one on 3 and 4."""
    scenario = 0 if stage in ("1", "2") else 1
    return args.tutorial_users[scenario], args.tutorial_seconds[scenario]


def search_budget(stage, args, deadline):
    """Seconds the stage's capacity search may take so that the whole run ends by the deadline:
    what is left, less the tutorial runs still to come and each server's start and stop."""
    later = list(STAGES)[list(STAGES).index(stage):]
    reserved = sum(tutorial_run(s, args)[1] + STAGE_OVERHEAD for s in later)
    return max(MIN_SEARCH_SECONDS, min(args.stage_seconds, int(deadline - time.monotonic() - reserved)))


def main():
    global REPORTS, DATA
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000, help="posts (and comments) seeded, as the tutorial had")
    parser.add_argument("--hold", type=float, default=6, help="seconds measured per capacity step")
    parser.add_argument("--minutes", type=float, default=15,
                        help="the whole run's time budget: each search is cut short to keep it")
    parser.add_argument("--max-users", type=int, default=4096, help="users the search stops at")
    parser.add_argument("--stage1-max-users", type=int, default=8,
                        help="stage 1's cap: each of its lists costs a second of CPU")
    parser.add_argument("--stage-seconds", type=int, default=240, help="the longest a stage's search may take")
    parser.add_argument("--tutorial-seconds", type=int, nargs=2, default=[30, 135], metavar=("FULL", "PAGED"),
                        help="the tutorial's runs, on the full list and on the paginated one (long enough to "
                             "spawn 250 users at 2 a second)")
    parser.add_argument("--tutorial-users", type=int, nargs=2, default=[5, 250], metavar=("FULL", "PAGED"))
    parser.add_argument("--tutorial-spawn-rate", type=float, default=2)
    parser.add_argument("--tiny", action="store_true", help="a quick run at a tiny scale, for the tests")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="where the reports go")
    parser.add_argument("--data", type=Path, default=DATA, help="where the seeded SQLite file is kept")
    args = parser.parse_args()
    REPORTS, DATA = args.reports, args.data
    if args.tiny:
        args.posts, args.hold, args.max_users, args.stage1_max_users = 60, 2, 2, 2
        args.stage_seconds, args.tutorial_seconds, args.tutorial_users, args.tutorial_spawn_rate = 60, [3, 3], [2, 2], 2
    started = time.monotonic()
    deadline = started + 60 * args.minutes
    REPORTS.mkdir(exist_ok=True)
    database = prepare(args.posts)
    queries = queries_per_list(database)
    print(f"The tutorial's stages on {args.posts:,} posts, one SLO for all: p95 <= {SLO_MS} ms", flush=True)
    results = []
    start_users = 1
    for stage in STAGES:
        result = run_stage(database, stage, args, start_users, search_budget(stage, args, deadline))
        result["queries_per_list"] = queries[stage]
        # Each fix is meant to let more users in: the next search starts a step (half) below
        # the users this stage held, rather than at 1 user, which saves the steps that
        # every later stage holds anyway. A stage that holds fewer still has that step.
        if result["capacity"]:
            start_users = max(1, result["capacity"]["users"] // 2)
        results.append(result)
        print(f"Stage {stage}, {result['name']} (queries a list: {queries[stage]}): "
              f"{(result['verdict'] or ['no verdict'])[0]}; the tutorial's run: {describe(result['tutorial'])} "
              f"(its laptop: {result['tutorial_published']})", flush=True)
    minutes = (time.monotonic() - started) / 60
    print(f"The story took {minutes:.1f} minutes (budget {args.minutes:g})", flush=True)
    write_reports(results, args, minutes)


def describe(tutorial):
    if not tutorial["requests"]:
        return f"{tutorial['users']} users, no list answered"
    return (f"{tutorial['users']} users, {tutorial['requests']} lists, p50 {tutorial['p50_ms']:,} ms, "
            f"p95 {tutorial['p95_ms']:,} ms")


def write_reports(results, args, minutes):
    from benchmarks.story import report

    (REPORTS / "story.json").write_text(json.dumps({"posts": args.posts, "slo_ms": SLO_MS, "minutes": minutes,
                                                    "stages": results}, indent=2))
    (REPORTS / "story.md").write_text(report.markdown(results, args.posts, SLO_MS, minutes))
    try:
        report.chart(results, REPORTS / "story.png")
    except ImportError:  # `make story` installs it; a bare `python -m` may run without it
        print("No chart: matplotlib is missing (pip install -r benchmarks/requirements.txt)", flush=True)
        print(f"Wrote {REPORTS / 'story.json'} and story.md", flush=True)
        return
    print(f"Wrote {REPORTS / 'story.json'}, story.md and story.png", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # each server is stopped by run_stage's finally
