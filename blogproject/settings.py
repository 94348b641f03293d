"""
Settings for the blog API, read from the environment.

With nothing set this is a local development setup (DEBUG on, bundled SQLite).
DJANGO_DEBUG=0 makes it production: it then refuses to start without a real
DJANGO_SECRET_KEY, and turns on the HTTPS protections `check --deploy` asks for.
"""
import os
import tempfile
from pathlib import Path

import dj_database_url
import orjson
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1 or 0.")


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)

DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-only"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. In production (DJANGO_DEBUG=0) set it to a long "
            "random value, e.g. the output of: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
if not DEBUG and (SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is a development or short key. In production (DJANGO_DEBUG=0) "
        "use at least 50 random characters, e.g. the output of: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "blog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "blog.middleware.RequestSizeLimitMiddleware",
    # 503 while the database is unreachable, 507 while it is full, instead of a 500.
    "blog.middleware.DatabaseFailureMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The admin's messages, kept in its session: the default (cookie, then session) sets
# up a cookie signer on every request, an API read's included.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "blogproject.urls"
WSGI_APPLICATION = "blogproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# DATABASE_URL picks the engine (postgres://user@host:5432/name); the default is
# the bundled SQLite file. Connections persist between requests: opening one per
# request costs PostgreSQL a process fork each time.

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several server processes write to one file: WAL lets readers run beside the
    # writer, IMMEDIATE takes the write lock at BEGIN (no deadlock-prone lock
    # upgrades), and the timeout makes a writer wait for the lock instead of failing.
    # A 64 MB page cache (the default is 2 MB) holds the ordering index of a million
    # posts, so the walk to a deep page reads memory, not the file (docs/performance.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
        ),
    }
    # A file, not memory, so that a server started by a test can share it; one per
    # test run, so that runs side by side do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"blog-test-{os.getpid()}.sqlite3")
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with its per-request health check made without a round trip.
    DATABASES["default"]["ENGINE"] = "blog.db.postgresql"
if DATABASES["default"]["ENGINE"] == "blog.db.postgresql" and env_bool(
    "DJANGO_DB_PREPARED_STATEMENTS", True
):
    # Parameters bound by the server, and a statement run 5 times prepared (psycopg's
    # threshold): the endpoints repeat the same few statements, and planning one anew
    # was much of its cost (docs/performance.md).
    # Django leaves both off for PgBouncer in transaction mode before 1.21, which
    # cannot follow prepared statements: set DJANGO_DB_PREPARED_STATEMENTS=0 there.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.setdefault("server_side_binding", True)
    options.setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------
# The failed-login throttle counts in the cache, so the cache must be shared by
# every server process: the database by default, Redis when REDIS_URL is set.

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
            # Past MAX_ENTRIES (300 by default) Django deletes a third of the entries,
            # live ones too: a flood of failed logins could wipe the counts of the
            # throttle it is tripping. Expired entries are still culled.
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }

# --- Auth -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalization ---------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only (there is no LocaleMiddleware, so every request was in LANGUAGE_CODE anyway):
# Django's advice for a site that does not translate, and each read's links then skip
# the active-language lookup, 3.5% of a post detail's instructions (callgrind). Set it to True together
# with django.middleware.locale.LocaleMiddleware to serve other languages.
USE_I18N = False
USE_TZ = True

# --- Static files -----------------------------------------------------------
# Served by whitenoise from STATIC_ROOT (`manage.py collectstatic`), whatever the server.

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Limits -----------------------------------------------------------------
# Django's own cap on a request body (2.5 MB) also applies to the JSON the API
# parses: larger bodies are answered 413 before they are read.

DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440))
BLOG_POST_BODY_MAX_LENGTH = 100_000
BLOG_COMMENT_BODY_MAX_LENGTH = 10_000

# --- REST framework ---------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials is a 401 with
        # `WWW-Authenticate: Token` rather than a 403.
        "blog.authentication.TokenAuthentication",
        "blog.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "blog.renderers.BlogJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Datetimes are left to the renderer, which writes them as DRF's ISO 8601 format
    # would (UTC as Z), in C rather than Python (blog/renderers.py). Times are written
    # in the zone the database gives them, UTC; this project activates no other zone.
    "DATETIME_FORMAT": None,
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_UTC_Z,),
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "blog.renderers.BlogContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "blog.pagination.BlogLimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "blog.schema.BlogAutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        # Failed logins per username; successful logins are never counted.
        "failed_login": os.environ.get("BLOG_FAILED_LOGIN_RATE", "5/min"),
        # Failed logins per client address, whatever the usernames: one address cannot
        # try a password on many accounts. The address is REMOTE_ADDR; behind a proxy set
        # NUM_PROXIES, or every client shares the proxy's address and its limit.
        "failed_login_address": os.environ.get("BLOG_FAILED_LOGIN_ADDRESS_RATE", "30/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Blog API",
    "DESCRIPTION": "Posts and comments with token login; the target of the bundled Locust suite.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # blog.urls.IdConverter: an integer id that fits the 64-bit id column.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
}

# --- Production -------------------------------------------------------------
# On unless DEBUG. DJANGO_HTTPS=0 turns the HTTPS-only protections off for a
# production-mode server on plain HTTP, such as `make run` on 127.0.0.1.

HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Behind a TLS-terminating proxy, tell Django which header marks HTTPS,
    # e.g. DJANGO_SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO.
    if os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = (os.environ["DJANGO_SECURE_PROXY_SSL_HEADER"], "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", 31_536_000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # A database outage is logged once by blog.middleware, not once per request.
        "skip_answered_database_failures": {"()": "blog.middleware.SkipAnsweredDatabaseFailures"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["skip_answered_database_failures"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING", "propagate": False}},
}
