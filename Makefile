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

.PHONY: bench capacity faults help install loadtest run serve story test test-newest
.DEFAULT_GOAL := help

help:
	@echo "make run          the API on http://$(HOST):$(PORT) and Locust's web UI on http://localhost:8089"
	@echo "make test         the whole test suite (pytest)"
	@echo "make serve        the API alone, as production serves it (granian)"
	@echo "make loadtest     a headless load test: USERS=$(USERS) SPAWN_RATE=$(SPAWN_RATE) RUN_TIME=$(RUN_TIME), verdict last"
	@echo "make capacity     how much load the API holds (CAPACITY_ARGS)"
	@echo "make faults       faults injected under load: what users saw, nothing lost (FAULTS_ARGS)"
	@echo "make story        the tutorial's stages as load, beside this API (STORY_ARGS)"
	@echo "make bench        the read path against Django's floor (SCALES, DATABASES, BENCH_ARGS)"
	@echo "make bench-peers  this API against textbook DRF, django-ninja, django-modern-rest, django-bolt"
	@echo "make test-newest  the upgrade canary on the newest Django and DRF the requirements admit"
	@echo "Ports: PORT=8001 moves the API, LOCUST_WEB_PORT=8090 the Locust UI. More: README.md and docs/."

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

.secret_key:
	$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	chmod 600 $@

# Migrate, collect static files, load demo data into an empty database, then serve as
# production does (blogproject/serve.py: granian). SERVE_ARGS go to granian, e.g.
#   make serve SERVE_ARGS="--access-log"
# exec: the server replaces the shell, so a signal make passes on reaches it.
SERVE_ARGS ?=
serve: install .secret_key staticfiles/.collected
	$(PROD_ENV) $(BIN)/python manage.py migrate --noinput -v0
	$(PROD_ENV) $(BIN)/python manage.py seed_blog --if-empty
	$(PROD_ENV) exec $(BIN)/python -m blogproject.serve --host $(HOST) --port $(PORT) --workers $(WEB_CONCURRENCY) $(SERVE_ARGS)

# The admin's and the docs page's static files come from the installed packages (the
# project has none of its own), so they are collected again only when those change:
# compressing them takes about 16 s.
staticfiles/.collected: $(BIN)/.installed .secret_key
	$(PROD_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	touch $@

# The API (the `serve` steps, unless something already answers at API_URL) in the
# background and the Locust web UI (http://localhost:8089) pointed at it; each run's verdict
# shows in its Verdict tab. Ctrl-C stops both. Another port: make run LOCUST_WEB_PORT=8090
# (Locust's own setting); a port already taken ends it at once with exit code 1.
API_URL ?= http://$(HOST):$(PORT)
run: install
	MAKE="$(MAKE)" sh loadtests/with_api.sh $(API_URL) $(BIN)/locust -f loadtests/locustfile.py --host $(API_URL)

# Headless and bounded: USERS users, SPAWN_RATE more a second, for RUN_TIME, against
# API_URL (started as in `run` if nothing answers there). Writes reports/loadtest.html and
# reports/loadtest_*.csv. Exits 1 when over 1% of requests fail, the p95 is over 500 ms,
# or an acknowledged write is lost (BLOG_LOADTEST_* settings: loadtests/locustfile.py).
USERS ?= 20
SPAWN_RATE ?= 5
RUN_TIME ?= 1m
loadtest: install
	MAKE="$(MAKE)" sh loadtests/with_api.sh $(API_URL) $(BIN)/locust -f loadtests/locustfile.py \
		--headless --host $(API_URL) --users $(USERS) --spawn-rate $(SPAWN_RATE) --run-time $(RUN_TIME) \
		--html reports/loadtest.html --csv reports/loadtest

# How much load the API holds: Locust's users grow in steps (loadtests/locustfile.py,
# --blog-capacity) until the p95 passes 500 ms, over 1% fail, or throughput stops
# growing; the last line printed is the answer. Against API_URL, started as in `run` if
# nothing answers there. Writes reports/capacity.json, .html, _*.csv, then draws .png.
#   make capacity CAPACITY_ARGS="--blog-max-p95-ms 200 --processes 2"
CAPACITY_ARGS ?=
capacity: $(BIN)/.bench-installed
	rm -f reports/capacity.json
	MAKE="$(MAKE)" sh loadtests/with_api.sh $(API_URL) $(BIN)/locust -f loadtests/locustfile.py \
		--headless --host $(API_URL) --blog-capacity --blog-capacity-start-users 10 --run-time 15m \
		--blog-capacity-report reports/capacity.json --html reports/capacity.html --csv reports/capacity \
		$(CAPACITY_ARGS); \
	status=$$?; test -s reports/capacity.json && $(BIN)/python loadtests/capacity_chart.py \
		reports/capacity.json reports/capacity.png >/dev/null; exit $$status

# The tutorial's story as load (benchmarks/story/): its stages (every post with N+1
# queries; with select_related; the textbook DRF fix) and this API, each served the same
# way and searched for capacity by the same Locust scenario, then the tutorial's own runs.
# Writes reports/story.md, story.json and story.png (options: python -m benchmarks.story.run -h).
STORY_ARGS ?=
story: $(BIN)/.bench-installed
	$(BIN)/python -m benchmarks.story.run $(STORY_ARGS)

test: install
	$(BIN)/pytest

# The upgrade canary and the read path's tests on the newest Django and DRF that
# requirements.txt admits, on a newer Python (its own venv, .venv-newest).
NEWEST_PYTHON ?= $(shell for python in "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python python3.13; do \
	"$$python" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { command -v "$$python"; break; }; done)
NEWEST_TESTS = tests/test_upgrade_canary.py tests/test_reads.py tests/test_db_statements.py \
	tests/test_db_pages.py tests/test_pagination.py tests/test_renderers.py tests/test_connection_health.py
.venv-newest/.installed: requirements.txt requirements-dev.txt
	@test -n "$(NEWEST_PYTHON)" || { echo "No Python 3.13 found: set NEWEST_PYTHON=/path/to/python3.13"; exit 1; }
	test -x .venv-newest/bin/python || $(NEWEST_PYTHON) -m venv .venv-newest
	.venv-newest/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -r requirements-dev.txt
	touch $@

test-newest: .venv-newest/.installed
	@.venv-newest/bin/python -c 'import sys, django, rest_framework; print("Python", sys.version.split()[0], "Django", django.__version__, "DRF", rest_framework.__version__)'
	.venv-newest/bin/pytest -p no:cacheprovider $(NEWEST_TESTS)

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

# This API against what a Django developer would otherwise choose (benchmarks/peers/:
# textbook DRF, django-ninja, django-modern-rest, django-bolt), side by side:
# reports/peers.md. django-bolt's own venv is made in benchmarks/.data on the first run.
#   make bench-peers PEERS_POSTS=5000 PEERS_ARGS="--rounds 5 --seconds 5 --database postgres"
PEERS_POSTS ?= 5000
PEERS_ARGS ?=

.PHONY: bench-peers

$(BIN)/.peers-installed: $(BIN)/.installed benchmarks/peers/requirements.txt
	$(BIN)/python -m pip install --quiet -r benchmarks/peers/requirements.txt
	touch $@

bench-peers: $(BIN)/.peers-installed
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	$(BIN)/python -m benchmarks.peers.run --posts $(PEERS_POSTS) $(PEERS_ARGS)

# Faults injected one at a time while Locust's usual mix runs (loadtests/faults.py): a
# worker killed, both stalled 2 s, the database restarted or its disk full, slow clients.
# Starts its own API and database (never the one at API_URL); prints what users saw per
# fault and the recovery time. Exits 1 on a lost write, a 500 or a slow recovery.
#   make faults FAULTS_ARGS="--database postgres --short"
# With --web, Locust's web UI instead (at LOCUST_WEB_PORT, or a free port; printed): each
# run started there with "Blog faults" ticked gets the same faults and verdict, also in
# its Logs tab. Ctrl-C stops everything.
#   make faults FAULTS_ARGS=--web LOCUST_WEB_PORT=8089
FAULTS_ARGS ?=
faults: install
	$(BIN)/python -m loadtests.faults $(FAULTS_ARGS)
