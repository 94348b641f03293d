"""Profile one endpoint in-process with pyinstrument, through the whole middleware stack.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... \
        python -m benchmarks.profile "/blog/posts?limit=20" --requests 500
"""
import argparse
import io
import os
import sys
import time

import django


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="path and query string to GET, e.g. /blog/posts?limit=20")
    parser.add_argument("--requests", type=int, default=500, help="requests to profile")
    parser.add_argument("--cprofile", action="store_true", help="cProfile instead of pyinstrument")
    parser.add_argument("--sort", default="cumulative", help="cProfile: the pstats sort key")
    parser.add_argument("--lines", type=int, default=40, help="cProfile: how many functions to print")
    args = parser.parse_args()

    django.setup()
    get = make_client(args.path)

    def run():
        for _ in range(args.requests):
            get()

    run()  # warm up: imports, URL resolver, connection
    started = time.perf_counter()
    if args.cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run)
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
    else:
        from pyinstrument import Profiler

        with Profiler(interval=0.0002) as profiler:
            run()
        print(profiler.output_text(unicode=True, color=False, show_all=True))
    elapsed = time.perf_counter() - started
    print(f"{args.requests / elapsed:.0f} requests/s under the profiler")


def make_client(path):
    """A function that GETs path through the project's WSGI application and checks for a 200."""
    # What a server calls (blogproject/wsgi.py, whatever it does on import), not Django's
    # test client (whose signal handlers would be a good part of the profile).
    from blogproject.wsgi import application

    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def get():
        response = application(dict(environ), start_response)
        body = b"".join(response)
        response.close()
        assert statuses.pop().startswith("200"), body[:200]

    return get


if __name__ == "__main__":
    main()
