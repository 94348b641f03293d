# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 2

# Production mode on plain HTTP: DEBUG off, a real secret key (generated once into
# the git-ignored .secret_key unless DJANGO_SECRET_KEY is set), HTTPS-only
# protections off because this server is on loopback without TLS.
PROD_ENV = DJANGO_DEBUG=0 DJANGO_HTTPS=0 DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat .secret_key)}"

.PHONY: bench install run serve test

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

.secret_key:
	$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	chmod 600 $@

# Migrate, collect static files, load demo data into an empty database, then serve.
serve: install .secret_key
	$(PROD_ENV) $(BIN)/python manage.py migrate --noinput -v0
	$(PROD_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(PROD_ENV) $(BIN)/gunicorn blogproject.wsgi --bind $(HOST):$(PORT) --workers $(WEB_CONCURRENCY)

run: serve

test: install
	$(BIN)/pytest

# The benchmark (benchmarks/run.py): reports/bench.md and charts. Larger runs, e.g.
#   make bench SCALES="5000 1000000" DATABASES="sqlite postgres"
SCALES ?= 5000
DATABASES ?= sqlite
BENCH_ARGS ?=

$(BIN)/.bench-installed: $(BIN)/.installed benchmarks/requirements.txt
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

bench: $(BIN)/.bench-installed
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	$(BIN)/python -m benchmarks.run --scales $(SCALES) --databases $(DATABASES) $(BENCH_ARGS)
