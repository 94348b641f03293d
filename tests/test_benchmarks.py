"""What `make bench` measures in-process is what it says it is (benchmarks/inprocess.py), and
its helpers destroy no database but a benchmark's.

No timings are checked here: the figures are the benchmark's to print.
"""
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from benchmarks import cpu, data, inprocess, report, run
from blog.models import Post

pytestmark = pytest.mark.django_db


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
