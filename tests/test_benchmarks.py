"""What `make bench` measures in-process is what it says it is (benchmarks/inprocess.py).

No timings are checked here: the figures are the benchmark's to print.
"""
import os
import subprocess
import sys
import time

import pytest

from benchmarks import cpu, inprocess
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
