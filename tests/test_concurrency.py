"""Concurrent writes across server processes: every create answers 201 and is stored."""
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from rest_framework.authtoken.models import Token

from blog.models import Post

CREATES = 200
THREADS = 32


def test_200_concurrent_creates_across_two_workers_are_all_201_and_all_stored(server_url, user):
    headers = {
        "Authorization": f"Token {Token.objects.create(user=user).key}",
        "Content-Type": "application/json",
    }

    def create(number):
        request = urllib.request.Request(
            f"{server_url}/blog/create",
            data=json.dumps({"title": f"post {number}", "body": "concurrent"}).encode(),
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(create, range(CREATES)))

    failures = [result for result in results if result[0] != 201]
    assert failures == []
    assert len({body["id"] for _, body in results}) == CREATES
    assert Post.objects.count() == CREATES
    # The count the triggers keep, which concurrent creates update one after another.
    with urllib.request.urlopen(f"{server_url}/blog/posts", timeout=60) as response:
        assert json.load(response)["count"] == CREATES
    assert set(Post.objects.values_list("title", flat=True)) == {f"post {number}" for number in range(CREATES)}
    assert set(Post.objects.values_list("user", flat=True)) == {user.pk}
