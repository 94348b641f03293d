"""Profile one endpoint in-process with pyinstrument, through the whole middleware stack.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... \
        python -m benchmarks.profile "/blog/posts?limit=20" --requests 500
"""
import argparse
import time

import django


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="path and query string to GET, e.g. /blog/posts?limit=20")
    parser.add_argument("--requests", type=int, default=500, help="requests to profile")
    parser.add_argument("--cprofile", action="store_true", help="cProfile instead of pyinstrument")
    args = parser.parse_args()

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")

    def run():
        for _ in range(args.requests):
            response = client.get(args.path)
            assert response.status_code == 200, response.status_code

    run()  # warm up: imports, URL resolver, connection
    started = time.perf_counter()
    if args.cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    else:
        from pyinstrument import Profiler

        with Profiler(interval=0.0002) as profiler:
            run()
        print(profiler.output_text(unicode=True, color=False, show_all=True))
    elapsed = time.perf_counter() - started
    print(f"{args.requests / elapsed:.0f} requests/s under the profiler")


if __name__ == "__main__":
    main()
