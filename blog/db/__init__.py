"""Every use of Django's and psycopg's internals, in one place.

- statements.py: querysets compiled to SQL once per process.
- counters.py: row counts read from the trigger-kept counters (migration 0003).
- pages.py: deep pages found by walking the list's index from its nearer end.
- bulk.py: seeding's bulk loads: COPY, the SQLite count trigger, emptying tables.
- postgresql/: Django's PostgreSQL backend with a health check that costs no round trip.

Each module opens with the internals it relies on; tests/test_upgrade_canary.py fails
when an upgrade changes one of them.
"""
