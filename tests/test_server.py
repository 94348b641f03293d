"""The production server (granian, as blogproject/serve.py runs it) against what production brings.

Slow clients, SIGTERM under load, workers that die, bodies over the limit, and
`python -m blogproject.serve` itself. Each test waits for events (an answer, a refused
connection, a process's exit, a new worker), never for a length of time; BOUND only stops a
broken server from hanging the suite.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from blog.models import Post

from .helpers import PROJECT_DIR, free_port, listening_workers, wait_for

BOUND = 120  # seconds
SLOW_CLIENTS = 100
WRITERS = 8
ACKNOWLEDGED_BEFORE_SIGTERM = 20


def address(url):
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def get(url, path):
    """(status, JSON) of a GET on a new connection."""
    with urllib.request.urlopen(url + path, timeout=BOUND) as response:
        return response.status, json.load(response)


def exchange(url, request):
    """The bytes the server sends back for `request` on a new connection, up to its close or reset.

    b"" if it dropped the connection before a byte of answer; ConnectionRefusedError once
    nothing listens.
    """
    with socket.create_connection(address(url), timeout=BOUND) as sock:
        received = b""
        try:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        return received


def parse(response):
    """(status, JSON body) of one complete HTTP/1.1 response; ValueError if it is cut short or malformed."""
    head, end_of_head, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    if not end_of_head or not status_line.startswith("HTTP/1.1 ") or "content-length" not in headers:
        raise ValueError("no complete head")
    if int(headers["content-length"]) != len(body):
        raise ValueError(f"{len(body)} bytes of a {headers['content-length']}-byte body")
    return int(status_line.split()[1]), json.loads(body)


def test_a_get_is_answered_while_100_clients_hold_their_requests_unfinished(server_url):
    slow = [socket.create_connection(address(server_url), timeout=BOUND) for _ in range(SLOW_CLIENTS)]
    try:
        for sock in slow:
            # The request line and one header, never the blank line that ends the head.
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        assert get(server_url, "/blog/posts?limit=1")[0] == 200

        for sock in slow:  # still open and unanswered: nothing to read, not even the end
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
            sock.settimeout(BOUND)
        # Each is answered once it finishes (within granian's 30 s header timeout).
        for sock in slow:
            sock.sendall(b"Connection: close\r\n\r\n")
        for sock in slow:
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
            assert parse(response) == (200, {"status": "ok"})
    finally:
        for sock in slow:
            sock.close()


def test_sigterm_under_load_cuts_no_answer_loses_no_acknowledged_write_and_exits(server, user):
    body = json.dumps({"title": "Written across a shutdown", "body": "Acknowledged means stored."}).encode()
    request = (
        f"POST /blog/create HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Token {Token.objects.create(user=user).key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    acknowledged, unexpected = [], []
    some_acknowledged = threading.Event()
    deadline = time.monotonic() + BOUND

    def create_until_refused():
        """True once a connection is refused: nothing listens any more."""
        while time.monotonic() < deadline:
            try:
                response = exchange(server.url, request)
            except ConnectionRefusedError:
                return True
            if not response:
                continue  # dropped before any answer: the client knows it was not acknowledged
            try:
                status, answer = parse(response)
            except ValueError:
                unexpected.append(response)
                continue
            if status != 201:
                unexpected.append(response)
                continue
            acknowledged.append(answer["id"])
            if len(acknowledged) >= ACKNOWLEDGED_BEFORE_SIGTERM:
                some_acknowledged.set()
        return False

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        writers = [pool.submit(create_until_refused) for _ in range(WRITERS)]
        assert some_acknowledged.wait(BOUND), "no creates acknowledged"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=BOUND) == 0
        refused = [writer.result() for writer in writers]

    assert refused == [True] * WRITERS
    assert unexpected == []  # every answer complete JSON, and a 201
    assert len(set(acknowledged)) == len(acknowledged)
    assert set(Post.objects.filter(id__in=acknowledged).values_list("id", flat=True)) == set(acknowledged)


def test_killed_workers_are_replaced_and_the_replacements_serve(server):
    port = address(server.url)[1]

    def listening():
        assert server.process.poll() is None, "granian exited"
        return listening_workers(server.process.pid, port)

    originals = listening()
    assert len(originals) == server.workers

    # One after the other, each once: granian stops altogether when one worker crashes twice
    # within 5.5 s.
    for pid in originals:
        worker = psutil.Process(pid)
        worker.kill()
        worker.wait(BOUND)  # reaped by granian: its socket is closed, and new connections go to the others
        assert get(server.url, "/health") == (200, {"status": "ok"})
        wait_for(lambda: len(listening()) == server.workers, "a worker to replace the one killed")

    assert not listening() & originals
    assert get(server.url, "/health") == (200, {"status": "ok"})  # answered by a replacement
    assert server.process.poll() is None


def test_a_body_over_the_limit_is_answered_413_json(server_url, user):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}", "Content-Type": "application/json"}
    # The 413 goes out as soon as the head is in, and granian then closes the connection
    # with the body unread: a client still sending may get a reset in place of the
    # answer (a buffering proxy in front avoids that; docs/serving.md). Try until one
    # attempt reads the answer.
    for _ in range(20):
        connection = http.client.HTTPConnection(*address(server_url), timeout=BOUND)
        try:
            connection.request("POST", "/blog/create", body=b"x" * (limit + 1), headers=headers)
            response = connection.getresponse()
            body = response.read()
            break
        except (BrokenPipeError, ConnectionResetError):
            continue
        finally:
            connection.close()
    else:
        pytest.fail("20 attempts in a row were reset before the answer could be read")

    assert response.status == 413
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"detail": f"Request body is {limit + 1} bytes; the limit is {limit} bytes."}


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(server_url):
    # granian hands Django the request once its head is in; the body is read only if Django
    # reads it, so the 413 comes back before the client sends any of it.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    connection = http.client.HTTPConnection(*address(server_url), timeout=BOUND)
    connection.putrequest("POST", "/blog/create")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(100 * limit))
    connection.endheaders()

    response = connection.getresponse()

    assert response.status == 413
    assert json.load(response)["detail"] == f"Request body is {100 * limit} bytes; the limit is {limit} bytes."
    connection.close()


def test_serve_execs_granian_which_writes_its_pid_file_and_removes_it_on_sigterm(server_env, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pid_file = tmp_path / "server.pid"
    process = subprocess.Popen(
        [sys.executable, "-m", "blogproject.serve", "--port", str(port), "--workers", "1", "--pid-file", str(pid_file)],
        cwd=PROJECT_DIR, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def answers():
        assert process.poll() is None, "blogproject.serve exited"
        try:
            return get(url, "/health")[0] == 200
        except OSError:
            return False

    try:
        wait_for(answers, "the server to answer")
        # The same process, now granian's main process: a signal sent to it reaches granian.
        assert pid_file.read_text() == str(process.pid)
        assert "granian" in psutil.Process(process.pid).cmdline()
        assert len(psutil.Process(process.pid).children()) == 1

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=BOUND) == 0
        assert not pid_file.exists()
    finally:
        # SIGTERM, not SIGKILL: granian's workers outlive a main process that is killed.
        process.terminate()
        process.wait(timeout=BOUND)


def test_ctrl_c_to_make_runs_wrapper_stops_the_server_it_started_gracefully(tmp_path):
    """`make run` and `make loadtest` start the API through loadtests/with_api.sh; a terminal's
    Ctrl-C (SIGINT to the whole foreground group) must stop it by the graceful path, not by
    granian's kill timeout (which a worker hit every other time when the SIGINT reached it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "with_api.log"
    api_log = tmp_path / "api.log"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "API_LOG": str(api_log)}

    def as_a_terminal_starts_it():
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a job started in the background ignores it
        os.setsid()

    process = subprocess.Popen(
        ["sh", "loadtests/with_api.sh", url, "sleep", str(BOUND)], cwd=PROJECT_DIR, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT, preexec_fn=as_a_terminal_starts_it,
    )
    try:
        def answers():
            assert process.poll() is None, log.read_text()
            try:
                return get(url, "/health")[0] == 200
            except OSError:
                return False

        def granian_main_process():
            for child in psutil.Process(process.pid).children(recursive=True):
                if "granian" in child.cmdline() and "granian" not in child.parent().cmdline():
                    return child.pid

        wait_for(answers, "the API that with_api.sh starts")
        # Once every worker is up: granian loses a signal that comes while a worker boots.
        main = granian_main_process()
        wait_for(lambda: len(listening_workers(main, port)) == 2, "both workers to listen")
        os.killpg(process.pid, signal.SIGINT)

        assert process.wait(timeout=BOUND) == 130
        output = api_log.read_text()
        assert "Granian shutdown completed" in output
        assert "refused to gracefully stop" not in output, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=BOUND)


@pytest.mark.parametrize("module", ["blogproject.wsgi", "blogproject.asgi"])
def test_the_server_entry_points_freeze_what_they_loaded_out_of_the_garbage_collectors_way(server_env, module):
    # Django, DRF and the apps stay for the worker's life: full collections that walked them
    # cost a page of posts 7% of its instructions (benchmarks.instructions, docs/performance.md).
    script = f"import gc, {module}; print(gc.get_freeze_count(), gc.isenabled())"
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, env=server_env,
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    frozen, collecting = result.stdout.split()
    assert int(frozen) > 50_000  # Django alone is more objects than that
    assert collecting == "True"  # what the requests make is still collected
