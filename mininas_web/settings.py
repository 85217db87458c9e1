"""Django settings for Mini-NAS web.

Every setting that differs between machines comes from an environment variable, read through
the small helpers below. The defaults suit local development (SQLite, local Redis), except DEBUG:
it is off unless DEBUG=1 is set (the launcher, `make run`, and pytest set it).
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from searchapp.nas.limits import MAX_WORKING_SIDE as _MAX_WORKING_SIDE
from searchapp.nas.limits import MIN_SIDE as _MIN_SIDE

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def envsecret(name: str, default: str | None) -> str:
    """A secret from NAME or from the file named by NAME_FILE (docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    value = os.environ.get(name)
    if value:
        return value
    if default is None:
        raise ImproperlyConfigured(
            f"{name} (or {name}_FILE) must be set when DEBUG is off; "
            "for local development set DEBUG=1"
        )
    return default


def database_from_url(url: str) -> dict:
    """sqlite:///path/to.db (or sqlite:///:memory:) and postgres://user:pass@host:port/name."""
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:///:memory:
        name = unquote(parts.path[1:]) or ":memory:"
        if name != ":memory:" and not Path(name).is_absolute():
            name = str(BASE_DIR / name)
        # Several workers write one search's events at once (--workers N, parallel candidates):
        # WAL lets readers run beside the writer, and IMMEDIATE transactions take the write
        # lock when they begin, so two writers queue (timeout) instead of one failing at once
        # with "database is locked" when it upgrades a read to a write.
        options = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": options}
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60),
        }
    raise ImproperlyConfigured(f"DATABASE_URL: unsupported scheme {parts.scheme!r} in {url!r}")


DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret(
    "SECRET_KEY", "django-insecure-mininas-dev-key-only-for-local-use" if DEBUG else None
)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_rq",
    "axes",
    "searchapp",
]

MIDDLEWARE = [
    "searchapp.limits.RequestSizeLimitMiddleware",  # 413 before anything reads the body
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # the lockout page (searchapp/signin.py)
]

ROOT_URLCONF = "mininas_web.urls"
WSGI_APPLICATION = "mininas_web.wsgi.application"
ASGI_APPLICATION = "mininas_web.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# django-axes checks every sign-in first (page and admin): LOGIN_FAILURE_LIMIT failures for one
# username from one address lock that pair out, and as many from one address (any usernames) lock
# the address out, for LOGIN_LOCKOUT_SECONDS after the last one. A username alone is never locked,
# so nobody can lock its owner out from elsewhere. The address is REMOTE_ADDR: Uvicorn sets it from
# X-Forwarded-For only when the request comes from FORWARDED_ALLOW_IPS (the proxy).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(seconds=envint("LOGIN_LOCKOUT_SECONDS", 900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_LOCKOUT_CALLABLE = "searchapp.signin.locked_out"
AXES_VERBOSE = False  # no banner on every manage.py command; lockouts are still logged
AXES_SENSITIVE_PARAMETERS = []  # log the username and address (never the password)
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))
# Uvicorn has no static file server; Django serves /static/ itself unless a proxy does.
SERVE_STATIC = envbool("SERVE_STATIC", True)

# Uploaded datasets (packed .npz) and search outputs (weights); served only through views.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# ---- Redis: RQ queue and channel layer ----
RUN_DIR = Path(os.environ.get("RUN_DIR") or BASE_DIR / "var" / "run")
"""Where `make run` writes redis.url (mode 0600) while it runs, for commands from other shells."""


def _launcher_redis_url() -> str:
    try:
        return (RUN_DIR / "redis.url").read_text().strip()
    except OSError:
        return ""


REDIS_URL = os.environ.get("REDIS_URL") or _launcher_redis_url() or "redis://127.0.0.1:6379/0"
"""REDIS_URL, else the Redis of a running `make run`, else the default local Redis."""

CHANNEL_LAYERS = {
    "default": {
        # channels_redis's, with a receive() that ends when cancelled (mininas_web/channel_layer.py)
        "BACKEND": "mininas_web.channel_layer.RedisChannelLayer",
        # A slow client loses messages past capacity; it resyncs from a snapshot (seq gap).
        # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
        # channels_redis blocks in BZPOPMIN: a busy server then drops sockets ("Timeout
        # reading"). Reads may take longer than the block; a dead Redis still fails fast.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "capacity": 500,
            "expiry": 60,
        },
    }
}

SEARCH_JOB_TIMEOUT = envint("SEARCH_JOB_TIMEOUT", 24 * 3600)
"""Seconds a search may run on a worker; RQ's own default (180 s) is far too short."""

SUITE_JOB_TIMEOUT = envint("SUITE_JOB_TIMEOUT", 3 * 3600)
"""Seconds the suite job may run; the whole suite from the full archives takes minutes."""

PACK_JOB_TIMEOUT = envint("PACK_JOB_TIMEOUT", 3600)
"""Seconds a worker may spend decoding and packing one uploaded dataset."""

RQ_QUEUES = {
    "gpu": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": SEARCH_JOB_TIMEOUT},
    # CPU jobs (deriving the paper's suite, packing uploads); workers take them after "gpu":
    # rqworker gpu default
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": SUITE_JOB_TIMEOUT},
}

DERIVED_SOURCES_DIR = Path(os.environ.get("DERIVED_SOURCES_DIR", MEDIA_ROOT.parent / "sources"))
"""Where cifar-10-python.tar.gz and tiny-imagenet-200.zip (or their folders) are placed."""

# ---- The demo (`make run`, `manage.py seed_demo`) ----
DEMO_USER = os.environ.get("DEMO_USER") or "demo"
"""The user that the launcher and seed_demo create, with a small real dataset."""
DEMO_PASSWORD = envsecret("DEMO_PASSWORD", "mininas-demo")
"""That user's password (set only when the user is created)."""

# ---- Crash recovery (searchapp/tasks/reconcile.py) ----
SEARCH_LEASE_SECONDS = envint("SEARCH_LEASE_SECONDS", 15)
"""A running job renews its lease in Redis every third of this; a dead one loses it after this."""
RECONCILE_SECONDS = envint("RECONCILE_SECONDS", 5)
"""How often an idle worker looks for searches that no live job runs, and queues them again."""

# ---- Fair share (searchapp/quotas.py; admission in searchapp/searches.py) ----
SEARCH_MAX_QUEUED_PER_USER = envint("SEARCH_MAX_QUEUED_PER_USER", 10)
"""Searches of one user waiting to start; one more is refused when it is created."""
SEARCH_MAX_ACTIVE_PER_USER = envint("SEARCH_MAX_ACTIVE_PER_USER", 1)
"""Searches of one user handed to the workers at once (in the gpu queue or running); the rest
wait in the database, and users take turns (the one served longest ago goes first)."""
SEARCH_MAX_COST_PMACS = envint("SEARCH_MAX_COST_PMACS", 1000)
"""Ceiling on the estimated cost of one user's waiting and running searches together, in PMAC
(10^15 MACs: training images x epochs x MACs of the largest network x candidates)."""
UPLOAD_MAX_UNFINISHED_PER_USER = envint("UPLOAD_MAX_UNFINISHED_PER_USER", 3)
"""Folder uploads of one user started and not yet finished; one more is refused."""
PACK_MAX_CONCURRENT = envint("PACK_MAX_CONCURRENT", 2)
"""Uploads decoded and packed on the workers at once (one per user); the rest wait their turn."""
PACK_MAX_PER_USER = envint("PACK_MAX_PER_USER", 3)
"""Uploads of one user being packed or waiting to be; one more is refused (429)."""

# ---- Upload limits ----
UPLOAD_BATCH_FILES = envint("UPLOAD_BATCH_FILES", 200)
"""Files the browser sends per request when uploading a folder."""
UPLOAD_MAX_FILES = envint("UPLOAD_MAX_FILES", 100_000)
"""Files in one dataset upload (all batches together)."""
UPLOAD_MAX_FILE_BYTES = envint("UPLOAD_MAX_FILE_BYTES", 20 * 2**20)
"""Bytes of one image file."""
UPLOAD_MAX_REQUEST_BYTES = envint("UPLOAD_MAX_REQUEST_BYTES", 1024 * 2**20)
"""Bytes of one upload request (a batch of files, or a whole zip)."""
REQUEST_MAX_BYTES = envint("REQUEST_MAX_BYTES", 2**20)
"""Bytes of any other request body (sign-in, forms, JSON); searchapp/limits.py answers 413."""
UPLOAD_MAX_TOTAL_BYTES = envint("UPLOAD_MAX_TOTAL_BYTES", 4 * 2**30)
"""Bytes of one dataset upload (all batches together)."""
UPLOAD_STALE_SECONDS = envint("UPLOAD_STALE_SECONDS", 24 * 3600)
"""A folder upload left unfinished this long is deleted."""
UPLOAD_MAX_ZIP_ENTRIES = envint("UPLOAD_MAX_ZIP_ENTRIES", 100_000)
"""Entries (files and folders) in one uploaded zip; checked before anything is unpacked."""
UPLOAD_MAX_UNPACKED_BYTES = envint("UPLOAD_MAX_UNPACKED_BYTES", 4 * 2**30)
"""Bytes a zip's entries may declare in total (zip bombs)."""
UPLOAD_MAX_ZIP_RATIO = envint("UPLOAD_MAX_ZIP_RATIO", 100)
"""Largest compression ratio of one zip entry (images hardly compress; bombs do)."""
DATASET_MAX_SIDE = envint("DATASET_MAX_SIDE", 64)
"""Working resolution: images are stored as squares of at most this side (Tiny-ImageNet's 64 px);
larger ones are scaled down. An upload may ask for more, up to the engine's 512."""
DATASET_MAX_PIXELS = envint("DATASET_MAX_PIXELS", 200_000_000)
"""Decoded pixels one dataset may hold (images x side x side), checked before decoding."""
USER_STORAGE_QUOTA_BYTES = envint("USER_STORAGE_QUOTA_BYTES", 5 * 2**30)
"""Bytes a user's datasets may take on disk (packed, compressed arrays and thumbnails)."""
if not _MIN_SIDE <= DATASET_MAX_SIDE <= _MAX_WORKING_SIDE:
    raise ImproperlyConfigured(
        f"DATASET_MAX_SIDE must be {_MIN_SIDE} to {_MAX_WORKING_SIDE} px, got {DATASET_MAX_SIDE}"
    )
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_BATCH_FILES + 10
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20

# ---- Try it: predictions in the web process (searchapp/predict.py) ----
PREDICT_MAX_PIXELS = envint("PREDICT_MAX_PIXELS", 6 * 2**20)
"""Pixels one image sent to Try it may cost to decode, read from its header: a JPEG counts at
the 1/2 to 1/8 scale it is decoded at (a phone's 12-48 MP photo passes), a WebP 4 times, a
progressive JPEG twice its full size (searchapp/nas/images.py). At most 4 bytes each."""
PREDICT_MAX_REQUEST_PIXELS = envint("PREDICT_MAX_REQUEST_PIXELS", 32 * 2**20)
"""Pixels all the images of one Try it request may decode to together."""
PREDICT_CONCURRENCY = envint("PREDICT_CONCURRENCY", 2)
"""Predictions decoded and run at once in one web process; the next ones wait their turn."""
PREDICT_WAIT_SECONDS = envint("PREDICT_WAIT_SECONDS", 10)
"""How long a prediction waits for its turn before a 503 with Retry-After."""
PREDICT_IMAGES_PER_MINUTE = envint("PREDICT_IMAGES_PER_MINUTE", 120)
"""Images one user may send to Try it a minute (all processes together; 429 with Retry-After)."""
_predict = (PREDICT_MAX_PIXELS, PREDICT_MAX_REQUEST_PIXELS, PREDICT_CONCURRENCY)
if min(*_predict, PREDICT_IMAGES_PER_MINUTE, PREDICT_WAIT_SECONDS + 1) < 1:
    raise ImproperlyConfigured("PREDICT_* must be at least 1 (PREDICT_WAIT_SECONDS at least 0)")

# ---- API tokens and sockets ----
API_TOKENS_PER_USER = envint("API_TOKENS_PER_USER", 20)
"""Personal API tokens one user may hold (searchapp/tokens.py)."""
WS_MAX_SOCKETS_PER_USER = envint("WS_MAX_SOCKETS_PER_USER", 20)
"""Open sockets per user and server process; the next one is closed with 1008."""
WS_MAX_MESSAGE_BYTES = envint("WS_MAX_MESSAGE_BYTES", 4096)
"""Largest message a page may send on its socket (theirs are tiny); a larger one closes it, 1009."""
WS_SNAPSHOT_INTERVAL_MS = envint("WS_SNAPSHOT_INTERVAL_MS", 1000)
"""A socket gets at most one snapshot per this; resyncs and pings in between are coalesced."""

# ---- Production hardening (manage.py check --deploy) ----
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preload-listing a domain is a commitment for its owner to make, not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    if envbool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# A flood of one warning or error (20,000 slow clients, a bad Host on every request) writes at
# most a line a second of it; a bad Host header is one line, without a traceback. In the web
# server, Uvicorn's and asyncio's loggers have handlers of their own with the same filter
# (mininas_web/server.py, log_config).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "rate_limit": {"()": "mininas_web.logfilters.RateLimit", "seconds": 1.0},
        "one_line": {"()": "mininas_web.logfilters.OneLine"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["rate_limit"]},
        "console_one_line": {
            "class": "logging.StreamHandler",
            "filters": ["one_line", "rate_limit"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "django.security.DisallowedHost": {
            "handlers": ["console_one_line"],
            "level": "WARNING",
            "propagate": False,
        },
    },
}
