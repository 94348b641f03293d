"""What `make bench` measures in-process is what it says it is (benchmarks/inprocess.py), its
helpers destroy no database but a benchmark's, and its report says what it found: charts that
read without the text, units the keys name, and every file it wrote.

No timings are checked here: the figures are the benchmark's to print.
"""
import copy
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import matplotlib
import pytest
from matplotlib.collections import LineCollection
from matplotlib.container import BarContainer

from benchmarks import cpu, data, inprocess, instructions, report, run
from blog.models import Post

pytestmark = pytest.mark.django_db
matplotlib.use("Agg")


def test_the_tutorials_stages_serve_the_same_posts_with_their_query_counts(make_user):
    authors = [make_user(username=f"author{n}") for n in range(3)]
    Post.objects.bulk_create(Post(title=f"Post {n}", body="Body", user=authors[n % 3]) for n in range(30))

    stages = inprocess.stages(30)

    # N+1: one query for the posts, then one per post for its author; the app's page
    # reads its count in the same statement.
    assert [stage["queries"] for stage in stages] == [31, 1, 1]
    # The same JSON for every post, with and without select_related; the app's page is 20 of them.
    assert stages[0]["bytes"] == stages[1]["bytes"] > stages[2]["bytes"]


def test_the_deep_page_it_times_is_the_plain_offset_page(user):
    # Past the deferred-join threshold (1,000) and past half the list: the far-end walk.
    Post.objects.bulk_create(Post(title=f"Post {n}", body="Body", user=user) for n in range(1200))

    pages = inprocess.pages(1200)

    assert pages["deep_offset"] == 1080
    assert pages["deep_page_equals_plain_offset"] is True
    # The far-end walk reads the count first; the plain page carries it in its own statement.
    assert pages["deep_page"]["queries"] == 2
    assert pages["plain_offset_page"]["queries"] == 1


def test_the_cpu_split_counts_a_process_and_its_children(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; sum(range(10**7)); time.sleep(30)"])
    try:
        time.sleep(1.5)
        assert child.pid in cpu.children(os.getpid())
        assert cpu.process_seconds(child.pid) > 0.05
    finally:
        child.kill()
        child.wait()
    assert cpu.process_seconds(child.pid) == 0.0  # gone, not an error
    assert cpu.machine_seconds() > 0


@pytest.mark.parametrize("command", [["prepare", "10"], ["cleanup"]])
def test_the_data_helper_refuses_a_database_not_named_for_benchmarks_and_leaves_it_alone(tmp_path, command):
    # Named like the development database; a folder's name saying "bench" does not count.
    database = tmp_path / "benchmarks" / "db.sqlite3"
    database.parent.mkdir()
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE notes (text)")
    connection.execute("INSERT INTO notes VALUES ('keep me')")
    connection.commit()
    connection.close()
    before = database.read_bytes()

    result = subprocess.run([sys.executable, "-m", "benchmarks.data", *command], cwd=run.PROJECT,
                            env=run.django_env(f"sqlite:///{database}"), capture_output=True, text=True)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Refusing" in result.stderr and "DATABASE_URL" in result.stderr and "bench" in result.stderr
    assert database.read_bytes() == before


def test_the_data_helper_prepares_the_databases_benchmarks_run_names(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "DATA", tmp_path)
    env = run.django_env(run.database_url("sqlite", 10, None))

    ids = run.run_json(["benchmarks.data", "prepare", "10"], env)

    assert set(ids) == {"token", "post_id", "comment_id", "commented_post_id"}
    postgres = run.database_url("postgres", 1_000_000, "postgres://postgres@127.0.0.1:5432")
    assert data.is_benchmark_database("postgresql", postgres.rsplit("/", 1)[1])


def test_bench_json_latencies_are_in_the_milliseconds_their_keys_name():
    wrk_runs = [{"rps": 1000.0, "p50_us": 1500, "p90_us": 4000, "p99_us": 12000, "non_2xx": 0}]

    summary = run.endpoint_summary("GET", "/blog/posts?limit=20", wrk_runs, [0.5])

    assert (summary["p50_ms"], summary["p90_ms"], summary["p99_ms"]) == (1.5, 4.0, 12.0)
    assert not [key for key in summary if key.endswith("_us")]
    meta = {"date": "today", "commit": "abc1234", "machine": "2 CPUs", "command": "make bench", "load": "wrk"}
    result = {
        "database": "sqlite", "posts": 5000, "stages": [], "endpoints": {"post list": summary},
        "first_page": {"ms": 0.2}, "deep_offset": 4500, "deep_page": {"ms": 0.3, "queries": 2},
        "near_end_deferred_join_page": {"ms": 0.4}, "plain_offset_page": {"ms": 2.0},
        "deep_page_equals_plain_offset": True,
    }
    assert "| 1.50 | 4.00 | 12.0 |" in report.tables(meta, [result])


def test_in_process_timings_are_the_milliseconds_their_keys_name(user, monkeypatch):
    Post.objects.bulk_create(Post(title=f"Post {n}", body="Body", user=user) for n in range(30))
    # Every timed request reads the clock twice, 2 ms apart.
    clock = itertools.count(step=0.002)
    monkeypatch.setattr(inprocess.time, "perf_counter", lambda: next(clock))

    pages = inprocess.pages(30)

    for key in ("first_page", "deep_page", "near_end_deferred_join_page", "plain_offset_page"):
        assert pages[key]["ms"] == pytest.approx(2.0)


def stage(name, ms, queries):
    return {"stage": name, "ms": ms, "queries": queries, "bytes": 1000}


def endpoint(method, path, rps, ratios):
    return {"method": method, "path": path, "rps": rps, "ratio": sorted(ratios)[len(ratios) // 2],
            "ratios": ratios, "p50_ms": 2.0, "p90_ms": 4.0, "p99_ms": 9.0, "non_2xx": 0}


def bench_result(database="sqlite", posts=5000, plain_offset_ms=1.1, deep_page_ms=0.9, floor_rps=6538.0):
    """One database and scale's figures, shaped as benchmarks.run's bench_one returns them."""
    return {
        "database": database, "posts": posts,
        "stages": [stage("1. every post, no select_related (N+1)", 1944.5, posts + 1),
                   stage("2. every post, select_related('user')", 496.6, 1),
                   stage("3. paginated, ?limit=20 (the app)", 0.52, 1)],
        "first_page": {"ms": 0.5, "queries": 1, "bytes": 8000}, "deep_offset": posts * 9 // 10,
        "deep_page": {"ms": deep_page_ms, "queries": 2, "bytes": 8000},
        "near_end_deferred_join_page": {"ms": 1.0, "queries": 2, "bytes": 8000},
        "plain_offset_page": {"ms": plain_offset_ms, "queries": 1, "bytes": 8000},
        "deep_page_equals_plain_offset": True,
        "endpoints": {
            "floor": endpoint("GET", "/bench/floor", floor_rps, [1.0]),
            "post list": endpoint("GET", "/blog/posts?limit=20", 1849.0, [0.25, 0.30, 0.45]),
            "post detail": endpoint("GET", "/blog/post/5000", 4077.0, [0.64, 0.69, 0.73]),
            "comment list": endpoint("GET", "/blog/comments?limit=20", 2074.0, [0.24, 0.28, 0.31]),
        },
    }


def test_the_throughput_targets_span_their_own_endpoints_bars_and_are_in_the_legend():
    results = [bench_result(), bench_result("postgres", floor_rps=5210.0)]

    ax = report.throughput_figure(results).axes[0]

    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    targets = {}
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            for (x0, y0), (x1, y1) in collection.get_segments():
                if y0 == y1 and x0 != x1:  # horizontal: a target, not a whisker
                    targets[y0] = (x0, x1)
    endpoints = [text.get_text() for text in ax.get_xticklabels()]
    assert endpoints == ["post list", "post detail", "comment list"]
    for name, share in {"post list": 40, "post detail": 55}.items():
        group = [container.patches[endpoints.index(name)] for container in bars]
        extent = (min(bar.get_x() for bar in group), max(bar.get_x() + bar.get_width() for bar in group))
        drawn_at = next(y for y in targets if y == pytest.approx(share))
        assert targets.pop(drawn_at) == pytest.approx(extent)
    assert targets == {}
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["target: post list ≥ 40%, post detail ≥ 55%",
                      "sqlite, 5,000 posts: floor 6,538 req/s", "postgres, 5,000 posts: floor 5,210 req/s"]
    # The medians, written on their bars, on a linear axis from zero: a share reads as a length.
    assert [text.get_text() for text in ax.texts] == ["30%", "69%", "28%"] * 2
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0


def test_the_stages_chart_carries_each_stages_query_count_and_time_on_a_linear_axis():
    fig = report.stages_figure([bench_result(), bench_result(posts=1_000_000, plain_offset_ms=276)])

    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_title(loc="left") == "sqlite, 5,000 posts"
    assert [text.get_text() for text in ax.get_yticklabels()] == [
        "1. every post, no select_related (N+1)\n5,001 queries",
        "2. every post, select_related('user')\n1 query",
        "3. paginated, ?limit=20 (the app)\n1 query",
    ]
    assert [text.get_text() for text in ax.texts] == ["1,944.5 ms", "496.6 ms", "0.52 ms"]
    assert ax.get_xscale() == "linear"


def test_the_deep_page_chart_is_drawn_only_where_plain_offset_is_slower_and_says_why_not(tmp_path):
    small = bench_result(plain_offset_ms=1.1, deep_page_ms=0.9)

    written, skipped = report.charts(tmp_path, [small])

    assert "bench-deep-page.png" not in written and not (tmp_path / "bench-deep-page.png").exists()
    assert skipped == ["No deep-page chart: plain OFFSET is within 2× the app's deep page at these scales "
                       "(sqlite, 5,000 posts: 1.10 ms against 0.90 ms); it shows at a million posts "
                       '(make bench SCALES="5000 1000000").']
    large = bench_result(posts=1_000_000, plain_offset_ms=276.0, deep_page_ms=1.18)

    written, skipped = report.charts(tmp_path, [small, large])

    assert written == ["bench-stages.png", "bench-throughput.png", "bench-deep-page.png"] and skipped == []
    assert all((tmp_path / name).exists() for name in written)
    ax = report.deep_page_figure([small, large]).axes[0]
    assert "target: the app ≤ 25 ms" in [text.get_text() for text in ax.get_legend().get_texts()]
    assert "276.0 ms" in [text.get_text() for text in ax.texts]


def numeric_keys(document, parent=None):
    if isinstance(document, dict):
        return set().union(*(numeric_keys(value, key) for key, value in document.items()))
    if isinstance(document, list):
        return set().union(*(numeric_keys(value, parent) for value in document))
    return {parent} if isinstance(document, (int, float)) and not isinstance(document, bool) else set()


def test_a_run_prints_every_file_it_wrote_and_bench_json_keys_name_their_units(user, tmp_path, monkeypatch, capsys):
    Post.objects.bulk_create(Post(title=f"Post {n}", body="Body", user=user) for n in range(30))
    wrk_runs = [{"rps": 1000.0, "p50_us": 1500, "p90_us": 4000, "p99_us": 12000, "non_2xx": 0}]
    endpoints = {"floor": run.endpoint_summary("GET", "/bench/floor", wrk_runs, [1.0]),
                 "post list": run.endpoint_summary("GET", "/blog/posts?limit=20", wrk_runs, [0.5, 0.45])}
    # The figures from the code that measures them; only the servers and wrk are left out.
    # Every request timed at 2 ms, so that whether the deep page is drawn is not left to chance.
    with monkeypatch.context() as patch:
        clock = itertools.count(step=0.002)
        patch.setattr(inprocess.time, "perf_counter", lambda: next(clock))
        measured = {"stages": inprocess.stages(30), **inprocess.pages(30), "endpoints": endpoints}
    monkeypatch.setattr(run, "bench_one", lambda database, posts, args: {
        "database": database, "posts": posts, **copy.deepcopy(measured)})
    monkeypatch.setattr(sys, "argv", ["benchmarks.run", "--scales", "30", "--no-http", "--output", str(tmp_path)])
    monkeypatch.setattr(run.signal, "signal", lambda *args: None)  # pytest's own SIGTERM handling stays

    run.main()

    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (f"Wrote in {tmp_path.resolve()}: "
                         "bench.json, bench.md, bench-stages.png, bench-throughput.png")
    assert lines[-2].startswith("No deep-page chart: ")
    assert sorted(os.listdir(tmp_path)) == sorted(lines[-1].split(": ", 1)[1].split(", "))
    assert lines[-2] in (tmp_path / "bench.md").read_text()
    document = json.loads((tmp_path / "bench.json").read_text())
    # Every number's key says what it counts or its unit; wrk's microseconds never reach the file.
    assert numeric_keys(document) == {
        "posts", "deep_offset", "queries", "bytes", "non_2xx",  # counts
        "ms", "p50_ms", "p90_ms", "p99_ms",  # milliseconds
        "rps",  # requests per second
        "ratio", "ratios",  # of the floor's requests per second
    }
    assert document["results"][0]["endpoints"]["post list"]["p50_ms"] == 1.5


@pytest.mark.parametrize("server", sorted(run.SERVERS))
def test_a_benchmark_server_leaves_nothing_in_the_home_directory(tmp_path, server):
    # gunicorn's control socket defaults to $XDG_RUNTIME_DIR or ~/.gunicorn/: shared by
    # servers started side by side, and left behind.
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in run.django_env(f"sqlite:///{tmp_path / 'bench.sqlite3'}").items()
           if key != "XDG_RUNTIME_DIR"}

    with run.Server({**env, "HOME": str(home)}, 1, server=server) as started:
        assert started.process.poll() is None

    assert list(home.iterdir()) == []


def test_the_instruction_counters_child_runs_the_variant_then_the_requests(tmp_path):
    # The child that callgrind counts, run plainly: the variant is in the counted process,
    # before the warm-up and the requests it then makes.
    counted = tmp_path / "requests"
    variant = tmp_path / "count.py"
    variant.write_text(
        "import atexit\n"
        "from django.core.handlers.base import BaseHandler\n"
        "get_response, calls = BaseHandler.get_response, []\n"
        "def counting(self, request):\n"
        "    calls.append(request.path)\n"
        "    return get_response(self, request)\n"
        "BaseHandler.get_response = counting\n"
        f"atexit.register(lambda: open({str(counted)!r}, 'w').write(' '.join(calls)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.instructions", "--serve", "/bench/floor", "7", "--variant", str(variant)],
        cwd=run.PROJECT, env=run.django_env(f"sqlite:///{tmp_path / 'bench-unused.sqlite3'}"),
        capture_output=True, text=True,
    )

    assert result.returncode == 0, result.stderr
    assert counted.read_text().split() == ["/bench/floor"] * (instructions.WARM_UP + 7)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counts_are_per_request_with_start_up_cancelled_out(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.instructions", "/bench/floor", "--low", "1", "--high", "3"],
        cwd=run.PROJECT, env=run.django_env(f"sqlite:///{tmp_path / 'bench-unused.sqlite3'}"),
        capture_output=True, text=True,
    )

    assert result.returncode == 0, result.stderr
    path, figure = result.stdout.strip().split("\t")
    assert path == "/bench/floor" and figure.endswith(" instructions a request")
    # Django's start-up alone is billions: a figure this size is one request's.
    assert 100_000 < int(figure.split()[0].replace(",", "")) < 10_000_000
