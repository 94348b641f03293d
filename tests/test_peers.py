"""`make bench-peers` end to end at a tiny scale, and the JSON check it makes before timing.

The harness runs once (30 posts, 1 round of 1-second runs) with the peers that are
installed; a peer that is not is skipped here with the harness's reason. No speed is
checked: only that the figures are there and positive.
"""
import json
import shutil
import subprocess
import sys

import pytest
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from benchmarks.peers import compare, run
from benchmarks.peers.links import page_links

POST = {
    "id": 7,
    "url": "http://127.0.0.1:8000/blog/post/7",
    "title": "A title",
    "created_at": "2026-01-02T03:04:05.678901Z",
    "user": {"id": 1, "username": "ann"},
}


@pytest.fixture(scope="module")
def peers_report(tmp_path_factory):
    """peers.json and peers.md of one tiny run of the harness."""
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed: apt-get install wrk")
    output = tmp_path_factory.mktemp("peers")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.peers.run", "--posts", "30", "--rounds", "1", "--seconds", "1",
         "--warmup", "0", "--no-install", "--output", str(output)],
        cwd=run.PROJECT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((output / "peers.json").read_text()), (output / "peers.md").read_text()


@pytest.mark.parametrize("peer", run.PEERS, ids=lambda peer: peer.name)
def test_the_report_says_how_many_times_faster_this_api_is_than_each_installed_peer(peers_report, peer):
    results, markdown = peers_report
    if peer.label in results["skipped"]:
        pytest.skip(f"{peer.label}: {results['skipped'][peer.label]}")

    speedups = results["speedups"][peer.label]

    assert list(speedups) == list(run.ENDPOINTS)
    for figures in speedups.values():
        assert len(figures["ratios"]) == 1
        assert 0 < figures["min"] <= figures["median"] <= figures["max"]
    assert all(results["rps"][label][endpoint] > 0 for label in (run.THIS_API, peer.label) for endpoint in run.ENDPOINTS)
    assert f"| {peer.label} | " in markdown


def test_textbook_drf_is_always_measured_since_drf_is_a_runtime_dependency(peers_report):
    results, _ = peers_report

    assert [system["label"] for system in results["systems"]][:2] == [run.THIS_API, "textbook DRF"]


def test_every_peer_answered_this_apis_json_before_the_timing(peers_report):
    results, markdown = peers_report

    assert len(results["same_json"]["paths"]) == len(run.CHECKED)
    # Only the forms compare.py normalises may differ in the raw JSON.
    for fields in results["same_json"]["forgiven"].values():
        assert set(fields) <= compare.LINKS | compare.DATETIMES
    assert "## The same JSON" in markdown


def test_every_run_has_its_cpu_split(peers_report):
    results, markdown = peers_report
    measured = [system["label"] for system in results["systems"]]

    assert len(results["runs"]) == len(measured) * len(run.ENDPOINTS)
    for figures in results["runs"]:
        assert set(figures["cores"]) == {"server", "wrk", "database", "else"}
        assert figures["cores"]["server"] > 0
    assert "| round | endpoint | system | req/s | server | wrk | everything else | non-2xx |" in markdown


def test_links_differing_only_in_host_and_port_and_datetimes_in_milliseconds_are_the_same_json():
    theirs = {**POST, "url": "http://127.0.0.1:9000/blog/post/7", "created_at": "2026-01-02T03:04:05.678Z"}

    remaining, forgiven = compare.compare(POST, theirs)

    assert remaining == []
    # The host and port are every server's own: only the datetime is worth saying.
    assert forgiven == {"created_at": ("2026-01-02T03:04:05.678901Z", "2026-01-02T03:04:05.678Z")}


def test_a_link_as_a_path_is_the_same_link():
    assert compare.compare(POST, {**POST, "url": "/blog/post/7"}) == ([], {"url": (POST["url"], "/blog/post/7")})


@pytest.mark.parametrize(("theirs", "difference"), [
    ({**POST, "user": {"id": 1, "username": "bob"}}, "$.user.username: 'bob', where this API has 'ann'"),
    ({**POST, "id": "7"}, "$.id: '7', where this API has 7"),
    ({**POST, "url": "http://127.0.0.1:8000/blog/post/8"}, "$.url: '/blog/post/8', where this API has '/blog/post/7'"),
    ({**POST, "created_at": "2026-01-02T03:04:06.678901Z"}, "$.created_at: '2026-01-02T03:04:06.678000+00:00', "
                                                            "where this API has '2026-01-02T03:04:05.678000+00:00'"),
    ({key: value for key, value in POST.items() if key != "title"}, "$.title: '(missing)', where this API has 'A title'"),
    ({**POST, "extra": 1}, "$.extra: 1, where this API has '(missing)'"),
])
def test_anything_else_that_differs_is_a_difference(theirs, difference):
    remaining, forgiven = compare.compare(POST, theirs)

    assert remaining == [difference]
    assert forgiven == {}


def test_items_in_another_order_differ():
    ours = {"count": 2, "results": [{"id": 1}, {"id": 2}]}

    remaining, _ = compare.compare(ours, {"count": 2, "results": [{"id": 2}, {"id": 1}]})

    assert remaining == ["$.results[0].id: 2, where this API has 1", "$.results[1].id: 1, where this API has 2"]


@pytest.mark.parametrize("query", ["limit=20", "limit=20&offset=20", "limit=20&offset=40", "limit=20&offset=10",
                                   "offset=20&limit=20&q=x", "limit=20&offset=60"])
def test_the_peers_page_links_are_drfs(query):
    request = Request(APIRequestFactory().get(f"/blog/posts?{query}"))
    paginator = LimitOffsetPagination()
    paginator.paginate_queryset(list(range(50)), request)

    links = page_links(request.build_absolute_uri(), paginator.limit, paginator.offset, paginator.count)

    assert links == (paginator.get_next_link(), paginator.get_previous_link())
