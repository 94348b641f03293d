"""`make story`: the tutorial's stages answer as this API does, and the harness runs end to end."""
import importlib.util
import json
import subprocess
import sys

import pytest
from django.urls import clear_url_caches

from blog.models import Post

from .helpers import PROJECT_DIR

STAGE_LISTS = ["/story/1/posts", "/story/2/posts", "/story/3/posts"]


@pytest.fixture
def story_urls(settings):
    settings.ROOT_URLCONF = "benchmarks.story.urls"
    clear_url_caches()
    yield
    clear_url_caches()


def test_every_stage_answers_with_this_apis_posts(story_urls, api_client, make_post, make_user):
    other = make_user(username="bob")
    for n in range(25):
        make_post(title=f"Post {n}", author=other if n % 2 else None)
    this_api = api_client.get("/blog/posts").json()

    full_lists = [api_client.get(url).json() for url in STAGE_LISTS[:2]]
    textbook = api_client.get(STAGE_LISTS[2]).json()

    for posts in full_lists:  # the tutorial's first two stages: every post, no pages
        assert len(posts) == Post.objects.count()
        assert posts[:20] == this_api["results"]
    # The same page and count; the links lead to each stage's own next page.
    assert textbook["next"] == this_api["next"].replace("/blog/posts", "/story/3/posts")
    assert {**textbook, "next": None} == {**this_api, "next": None}
    post = this_api["results"][3]
    for stage in ("1", "2", "3"):
        assert api_client.get(f"/story/{stage}/post/{post['id']}").json() == post


def test_the_story_harness_runs_every_stage_at_a_tiny_scale(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.story.run", "--tiny", "--reports", str(tmp_path),
         "--data", str(tmp_path)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    stage_lines = [line for line in result.stdout.splitlines() if line.startswith("Stage ")]
    assert [line.split(",")[0] for line in stage_lines] == ["Stage 1", "Stage 2", "Stage 3", "Stage 4"]
    assert all("Capacity: " in line and "the tutorial's run: 2 users" in line for line in stage_lines), result.stdout
    report = json.loads((tmp_path / "story.json").read_text())
    assert [stage["queries_per_list"] for stage in report["stages"]] == [61, 1, 2, 1]
    assert all(stage["capacity"]["rps"] > 0 for stage in report["stages"])
    if importlib.util.find_spec("matplotlib"):  # benchmarks/requirements.txt, which `make story` installs
        assert (tmp_path / "story.png").stat().st_size > 0
    else:
        assert "No chart: matplotlib is missing" in result.stdout
    assert "| 4. this API | 1 |" in (tmp_path / "story.md").read_text()
