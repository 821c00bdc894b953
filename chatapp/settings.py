"""Settings for Doubletext.

Everything comes from the environment with safe embedded defaults: with no
variable set the app runs on SQLite with the in-memory channel layer and
executes runs inside the server process.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as "60/min"; "none" means no limit."""
    value = os.environ.get(name) or default
    return None if value.strip().lower() == "none" else value


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is false")
    # Development only: a fixed, obviously-insecure key so sessions survive restarts.
    SECRET_KEY = "django-insecure-doubletext-development-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the Swagger UI's assets, served by us (no CDN)
    "corsheaders",
    "runs",
    "checkpoints",
    "store",
]

# Django's own middleware, run in sync mode in one hop per request under Daphne
# (chatapp/platform/asgi_handler.py).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from Daphne (no separate web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Browsers on other origins (agent-chat-ui, a React app): CORS_ALLOWED_ORIGINS.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatapp.urls"

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

WSGI_APPLICATION = None
ASGI_APPLICATION = "chatapp.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several coroutines/threads write (server, executor): wait for the lock
    # instead of failing, and take the write lock at BEGIN so that a
    # read-then-write transaction cannot deadlock on lock upgrade. The
    # backend queues the process's own writers on a lock rather than in
    # SQLite's sleeping busy handler (chatapp/platform/sqlite3/base.py).
    DATABASES["default"]["ENGINE"] = "chatapp.platform.sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not the shared-cache in-memory database: shared cache ignores
    # the busy timeout and fails concurrent tests with "table is locked".
    # Named per test process, so that two test sessions never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}
    # Connections persist: a request runs on one of a few long-lived request
    # threads (chatapp/platform/asgi_handler.py), and opening a connection
    # (with the PRAGMAs above) was ~1 ms of every request. A connection left
    # broken or in a transaction is still closed after each request.
    DATABASES["default"]["CONN_MAX_AGE"] = None
else:
    # One test database per test process (several sessions may run at once).
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per process (psycopg_pool, Django 5.1+): a request or a
    # database call borrows a connection instead of opening one (~3.5 ms), and
    # a burst of requests waits for one instead of exceeding max_connections.
    # Size it so that processes x DATABASE_POOL_SIZE stays under the server's
    # max_connections. 0 turns pooling off.
    _pool_size = int(os.environ.get("DATABASE_POOL_SIZE", "10"))
    if _pool_size:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, _pool_size),
            "max_size": _pool_size,
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "20")),
        }
    # Statements planned once per connection: with server-side binding,
    # psycopg prepares a statement once it has run DATABASE_PREPARE_THRESHOLD
    # times on a connection, and PostgreSQL then skips parsing and planning it
    # (our hot paths repeat a few dozen statements: its CPU per run 7.0 → 4.5
    # ms, bench/README.md). Django binds client-side and never prepares by
    # default; server-side binding without preparing measured worse. "off"
    # (e.g. behind a PgBouncer in transaction mode) keeps Django's default.
    _prepare = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
    if _prepare not in ("off", "none", "0", ""):
        if not _prepare.isdigit():
            raise RuntimeError("DATABASE_PREPARE_THRESHOLD must be a whole number or 'off'")
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=int(_prepare)
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    _redis_host = {
        "address": REDIS_URL,
        # redis-py's asyncio pool refuses a 101st connection in
        # use ("Too many connections"): 200 websockets connecting
        # at once got HTTP 500s. Redis accepts 10000 clients.
        "max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS", "1000")),
        # redis-py 8 reads with a 5 s timeout by default, exactly
        # channels_redis's BZPOPMIN timeout: an idle receive then
        # failed with "Timeout reading" and closed its websocket.
        "socket_timeout": 15,
        "socket_connect_timeout": 5,
    }
    # The layer whose fan-out is fastest: channels_redis's Pub/Sub layer (beta
    # upstream), a tick's messages published in one round trip
    # (chatapp/platform/pubsub_layer.py). Messages are pushed to each process
    # instead of popped one by one (~4 Redis round trips per message
    # received): 200 streaming chats, p99 token latency 2.7 s with the list-based layer.
    # It has no per-channel capacity (a slow consumer's queue grows in its
    # process) and no message expiry: a message reaches the processes
    # subscribed when it is published, or nobody; the database stays the
    # source of truth (runs.bus.subscribe re-reads it). REDIS_CHANNEL_LAYER=core
    # opts out, back to channels_redis's list-based layer.
    REDIS_CHANNEL_LAYERS = {
        "pubsub": {
            "BACKEND": "chatapp.platform.pubsub_layer.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_redis_host]},
        },
        "core": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis_host], "capacity": 5000, "expiry": 60},
        },
    }
    _layer_kind = os.environ.get("REDIS_CHANNEL_LAYER") or "pubsub"
    if _layer_kind not in REDIS_CHANNEL_LAYERS:
        raise RuntimeError("REDIS_CHANNEL_LAYER must be pubsub or core")
    CHANNEL_LAYERS = {"default": REDIS_CHANNEL_LAYERS[_layer_kind]}
else:
    # Channels' in-memory layer, cheaper per message (chatapp/platform/inmemory_layer.py); the
    # same per-channel capacity as the Redis layer (a full channel drops).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chatapp.platform.inmemory_layer.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000},
        }
    }

# The cache holds the rate-limit counters: in Redis when there is one, so that
# every server process counts the same requests.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Set it per deployment when several share one Redis.
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "doubletext"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# In development WhiteNoise serves straight from the app/static folders; in
# production run `manage.py collectstatic` and it serves STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Accounts and API access ------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"

# Local demo: with DEBUG on, requests from this machine (127.0.0.1, ::1)
# without credentials act as one shared user, "local-demo", so that
# `manage.py runserver` works without an account. Always off when DEBUG is false.
LOCAL_DEMO = DEBUG and env_bool("LOCAL_DEMO", True)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "runs.api.errors.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "runs.api.auth.APIKeyAuthentication",  # x-api-key (langgraph-sdk)
        "runs.api.auth.TokenAuthentication",  # Authorization: Token <DRF token>
        "rest_framework.authentication.SessionAuthentication",  # the browser (CSRF checked)
        "runs.api.auth.LocalDemoAuthentication",  # only with LOCAL_DEMO, only from loopback
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        # Which threads a user sees is the services' business (runs.services.actors).
        "rest_framework.permissions.IsAuthenticated",
    ],
    # JSON, also when sent as text/plain or with no content type (as the
    # platform parses it; agent-chat-ui's proxy drops the header). A form's
    # body is refused (415); a cross-site browser request without a token or
    # an allowed origin is refused by the CSRF checks (runs/api/auth.py).
    "DEFAULT_PARSER_CLASSES": [
        "runs.api.parsers.JSONParser",
        "runs.api.parsers.PlainTextJSONParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "runs.api.parsers.JSONByDefault",
    # DRF's two, its JSON encoded by orjson (runs/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": [
        "runs.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_RATES": {
        # Run creation per user (REST and websocket), e.g. "60/min"; "none" turns it off.
        "run_create": env_rate("RUNS_CREATE_RATE", "60/min"),
    },
}
# The header langgraph-sdk sends its API key in.
API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"
# How long a process trusts an API key it verified (runs/services/accounts.py).
# A key revoked, or its user deactivated, is refused at once by the process
# that saved the change, and by the others within these seconds. 0: verify
# every request.
API_KEY_CACHE_SECONDS = float(os.environ.get("API_KEY_CACHE_SECONDS", "5"))

# Browser apps on other origins that may call the API (django-cors-headers):
# none by default; in the local demo, the dev servers of agent-chat-ui and
# the like on this machine. Comma separated, e.g. https://chat.example.com.
CORS_ALLOWED_ORIGINS = env_list(
    "CORS_ALLOWED_ORIGINS",
    ["http://localhost:3000", "http://127.0.0.1:3000"] if LOCAL_DEMO else [],
)
CORS_URLS_REGEX = r"^/(?!admin/|accounts/|static/).*$"  # the API, not the site's pages
CORS_ALLOW_HEADERS = (
    *("accept", "authorization", "content-type", "x-api-key", "x-auth-scheme"),
    "last-event-id",
    "x-requested-with",
)
# What the LangGraph SDKs read from responses: the run and thread of a new
# run, where to reconnect a stream, search paging.
CORS_EXPOSE_HEADERS = ("content-location", "location", "x-pagination-total", "x-pagination-next")

SPECTACULAR_SETTINGS = {
    "TITLE": "Doubletext API",
    "DESCRIPTION": "Threads, runs and double-texting strategies, compatible with langgraph-sdk.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # What the schema lists as ways in (the local demo is a development convenience).
    "AUTHENTICATION_WHITELIST": [
        "runs.api.auth.APIKeyAuthentication",
        "runs.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Fields named "status" carry different choices (a thread's status, which
    # runs a bulk cancel selects); named apart so the schema stays valid.
    "ENUM_NAME_OVERRIDES": {
        "BulkCancelStatusEnum": ["pending", "running", "all"],
        "ThreadStatusEnum": "runs.models.ThreadStatus",
        # A run's on_completion and a cron's on_run_completed: one choice set.
        "CompletionEnum": ["delete", "keep"],
    },
}

# --- Runs ---------------------------------------------------------------
# Execute runs inside the server process (embedded default). Production sets
# this to false and starts `python manage.py runworker_runs` processes.
RUNS_EMBEDDED_WORKER = env_bool("RUNS_EMBEDDED_WORKER", True)
# A worker holds a lease on each run it executes and renews it on heartbeat;
# a run whose lease expired (worker died) is recovered by any other worker.
RUNS_LEASE_SECONDS = float(os.environ.get("RUNS_LEASE_SECONDS", "30"))
RUNS_HEARTBEAT_SECONDS = float(os.environ.get("RUNS_HEARTBEAT_SECONDS", "5"))
# On SIGTERM a worker stops claiming and lets its runs finish for this long,
# then settles the rest as `error` at once (keep it below your process
# manager's stop timeout: Docker's is 10 s, Kubernetes' 30 s).
RUNS_SHUTDOWN_GRACE_SECONDS = float(os.environ.get("RUNS_SHUTDOWN_GRACE_SECONDS", "8"))
# How often an idle worker looks for pending runs without being woken up.
RUNS_POLL_SECONDS = float(os.environ.get("RUNS_POLL_SECONDS", "1"))
# How many runs one worker executes at once.
RUNS_WORKER_CONCURRENCY = int(os.environ.get("RUNS_WORKER_CONCURRENCY", "50"))
# The event loop of a `runworker_runs` worker: uvloop (uvicorn[standard]
# installs it; a graph's run takes ~15% less CPU on it than on asyncio's
# loop) or asyncio's own (e.g. for asyncio's debug mode).
RUNS_WORKER_EVENT_LOOP = os.environ.get("RUNS_WORKER_EVENT_LOOP", "uvloop").strip().lower()
if RUNS_WORKER_EVENT_LOOP not in ("uvloop", "asyncio"):
    raise RuntimeError("RUNS_WORKER_EVENT_LOOP must be uvloop or asyncio")
# Threads (each keeping one database connection) for the executor's database
# calls; 0: 1 on SQLite, 4 on PostgreSQL (chatapp/platform/db_threads.py).
RUNS_DB_THREADS = int(os.environ.get("RUNS_DB_THREADS", "0"))
# Threads a server process runs its requests' sync part in (views, middleware:
# chatapp/platform/asgi_handler.py), each keeping its database connection on
# SQLite. With the PostgreSQL pool, keep REQUEST_THREADS + RUNS_DB_THREADS
# within DATABASE_POOL_SIZE, or requests wait for a connection.
REQUEST_THREADS = int(os.environ.get("REQUEST_THREADS", "6"))
# A run whose worker died is resumed by another worker from its last
# checkpoint; after this many executions it ends `error` (WorkerLost).
RUNS_MAX_ATTEMPTS = int(os.environ.get("RUNS_MAX_ATTEMPTS", "3"))
# How long a run's checkpoint may wait in memory before it is stored (unless
# the run asked for durability="sync"): a run that ends sooner stores its
# checkpoints with its end, in one transaction (runs/worker/saver.py). A worker
# that dies loses at most this much of a run's progress. 0: store each at once.
RUNS_CHECKPOINT_DELAY_SECONDS = float(os.environ.get("RUNS_CHECKPOINT_DELAY_SECONDS", "0.05"))
# Threads whose last checkpoint a worker keeps decoded after their run ends, for
# the thread's next run and this process's reads of its state (runs/worker/heads.py):
# memory (the whole conversation, ~0.75 MB at 480 messages) for the decoding (4-7
# ms of CPU at 400-480). 0: read it back.
RUNS_KEPT_CHECKPOINTS = int(os.environ.get("RUNS_KEPT_CHECKPOINTS", "128"))
# Each process's reads of threads' states keep the channel values they decoded
# (checkpoints/decoded.py) and their JSON, up to this many MB of their stored
# size (in memory ~7x that: 147 KB stored, 0.8 MB decoded and 0.24 MB of JSON
# at 480 messages), so that a checkpoint read again (a state polled, the
# history after the next run) is not decoded or converted again; a new one's
# changed channels are. 0: decode each read.
RUNS_DECODED_STATE_MB = float(os.environ.get("RUNS_DECODED_STATE_MB", "32"))
# The parts a resumable run streamed are kept this long after its last one,
# for clients that reconnect with Last-Event-ID (runs/bus/event_log.py).
RUNS_STREAM_RETENTION_SECONDS = float(os.environ.get("RUNS_STREAM_RETENTION_SECONDS", "600"))
# A thread-less run's thread (on_completion "delete", their default) is
# deleted this long after the run ends: whoever waited has read its values.
RUNS_TEMPORARY_THREAD_SECONDS = float(os.environ.get("RUNS_TEMPORARY_THREAD_SECONDS", "60"))

# --- Graphs -----------------------------------------------------------------
# The LangGraph graphs the server runs: a langgraph.json as the LangGraph CLI
# reads it (by default the project's own, with the built-in graphs), plus
# RUNS_GRAPHS: graph id -> "package.module:attribute" (runs/graphs/registry.py).
LANGGRAPH_CONFIG = os.environ.get("LANGGRAPH_CONFIG", str(BASE_DIR / "langgraph.json"))
RUNS_GRAPHS: dict[str, str] = {}
# Built-in demo graphs: seconds between streamed tokens and words in a reply.
DEMO_TOKEN_DELAY = float(os.environ.get("DEMO_TOKEN_DELAY", "0.08"))
DEMO_REPLY_WORDS = int(os.environ.get("DEMO_REPLY_WORDS", "40"))
# Optional OpenAI-compatible backend (Ollama, vLLM, ...): the `openai` graph.
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "")
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
if OPENAI_BASE_URL:
    RUNS_GRAPHS["openai"] = "runs.graphs.openai:make_graph"
# Who may read GET /metrics besides staff users and the local demo: a
# Prometheus scraper sending `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Optional parts that are switched on (reported by /info).
RUNS_FEATURES: set[str] = {"crons"}
# How often each worker looks for due crons (runs.services.crons); a tick
# fires at most this late. Each look is one indexed query.
RUNS_CRON_POLL_SECONDS = float(os.environ.get("RUNS_CRON_POLL_SECONDS", "1"))
# Crons one user may have (409 beyond).
RUNS_MAX_CRONS_PER_USER = int(os.environ.get("RUNS_MAX_CRONS_PER_USER", "100"))
# How long a cron's firings (one row per tick fired) are kept.
RUNS_CRON_FIRINGS_RETENTION_SECONDS = float(
    os.environ.get("RUNS_CRON_FIRINGS_RETENTION_SECONDS", str(24 * 3600))
)
# --- Limits on what clients send ---------------------------------------------
# Largest accepted message content, in characters (422 beyond).
RUNS_MAX_MESSAGE_CHARS = int(os.environ.get("RUNS_MAX_MESSAGE_CHARS", "20000"))
# Largest accepted request body, in bytes (413 beyond), and websocket frame.
RUNS_MAX_REQUEST_BYTES = int(os.environ.get("RUNS_MAX_REQUEST_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = RUNS_MAX_REQUEST_BYTES
RUNS_MAX_FRAME_BYTES = int(os.environ.get("RUNS_MAX_FRAME_BYTES", str(256 * 1024)))
# Deepest accepted nesting of JSON objects/arrays in a body or a frame.
RUNS_MAX_JSON_DEPTH = int(os.environ.get("RUNS_MAX_JSON_DEPTH", "32"))
# Websocket frames a connection may send: a burst, refilled at a rate per
# second. A connection that goes beyond is closed (code 1008).
RUNS_WS_BURST = int(os.environ.get("RUNS_WS_BURST", "30"))
RUNS_WS_FRAMES_PER_SECOND = float(os.environ.get("RUNS_WS_FRAMES_PER_SECOND", "5"))

# --- Deployment security (DEBUG false) ------------------------------------------
if not DEBUG:
    # Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO.
    if os.environ.get("SECURE_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# (Django's defaults already send X-Frame-Options: DENY, nosniff and a
# same-origin referrer policy, and keep the session cookie from scripts.)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"runs": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")}},
}
