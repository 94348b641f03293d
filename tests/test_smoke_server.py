import json
import urllib.request


def test_server_fixture_serves_health(server_url):
    with urllib.request.urlopen(f"{server_url}/health") as response:
        assert json.load(response) == {"status": "ok"}
