"""Configuration: defaults, then the environment, then test overrides."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULTS = {
    "DATABASE_URL": None,  # None → SQLite file under the instance folder
    "REDIS_URL": None,  # None → an in-process Redis stand-in (embedded default)
    "SECRET_KEY": None,
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    "WECHAT_HTTP_TIMEOUT": 5.0,
    # The largest request: agents' image uploads (each channel kind caps its own webhook bodies
    # and media, bridge/channels/registry.py).
    "MAX_CONTENT_LENGTH": 11 * 1024 * 1024,
    "SIGNATURE_MAX_AGE": 300,  # seconds a signed webhook timestamp stays acceptable
    "TOKEN_MAX_AGE": 12 * 3600,  # agent API bearer tokens
    # A pending outbox row older than this whose job is in no queue (lost to a Redis outage)
    # is queued again by the sweep; one whose job still waits is left alone (jobs/sweep.py).
    "DELIVERY_STALE_SECONDS": 30,
    "SWEEP_INTERVAL_SECONDS": 30,
    # An agent none of whose clients (API requests, an open event stream) has been heard from
    # for this long is away: no new shoppers until heard from again (accounts/presence.py).
    "PRESENCE_TIMEOUT_SECONDS": 180,
    "CHANNEL_CACHE_SECONDS": 5.0,
    # A shop card's picture, fetched by the delivery for a Mini Program page card, may come from
    # a private address (loopback, the LAN): true only where the shop's server is one (tests, a
    # demo); otherwise a shop's data could make the worker read the bridge's own network.
    "CARD_IMAGES_FROM_PRIVATE_ADDRESSES": False,
    # Live event streams (GET /api/v1/events) each hold a server thread while open: at most
    # this many per agent and per client address (in Redis, across processes), and per
    # process (None: no cap; gunicorn.conf.py sets half a gthread worker's threads).
    "STREAMS_PER_AGENT": 10,
    "STREAMS_PER_ADDRESS": 100,
    "STREAMS_PER_PROCESS": None,
    "RQ_QUEUE": "kefu",
    # The demo (bridge/demo): this server's own base URL, where the sandbox channels' WeChat
    # answers. Set by `make run` (embedded with a demo file) or KEFU_DEMO_URL; None: no demo.
    # Seconds a web process's Redis call may take before it is given up (bridge/infra/redisconn.py).
    "REDIS_WEB_TIMEOUT": 0.3,
    "DEMO_URL": None,
    "DEMO_DIR": None,  # where the demo's WeChat keeps phones and images; None → instance/demo-wechat
    # The bridge's own copies of media files (bridge/media/store.py): agents' images now, the
    # shoppers' later. None → instance/media. Every web process and worker must see it.
    "MEDIA_DIR": None,
    # The bridge's own log lines at this level; libraries' routine chatter (each RQ job, each
    # request to the embedded server) only at DEBUG (bridge/logs.py).
    "LOG_LEVEL": "INFO",
}

ENV_KEYS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "WECHAT_API_BASE", "MEDIA_DIR", "LOG_LEVEL")

SECRET_FILE = "secret_key"  # the embedded default's own secret, in the instance folder


def load(instance_path: str, test_config: dict | None = None) -> dict:
    """Build the configuration dict: defaults → environment → test overrides."""
    config = dict(DEFAULTS)
    for key in ENV_KEYS:
        value = os.environ.get(key)
        if value:
            config[key] = value
    if os.environ.get("KEFU_DEMO_URL"):
        config["DEMO_URL"] = os.environ["KEFU_DEMO_URL"]
    if os.environ.get("PRESENCE_TIMEOUT_SECONDS"):
        config["PRESENCE_TIMEOUT_SECONDS"] = os.environ["PRESENCE_TIMEOUT_SECONDS"]
    for key in STREAM_LIMITS:
        if os.environ.get(key):
            config[key] = os.environ[key]
    if test_config:
        config.update(test_config)
    config["PRESENCE_TIMEOUT_SECONDS"] = presence_timeout(config["PRESENCE_TIMEOUT_SECONDS"])
    for key, (low, high) in STREAM_LIMITS.items():
        if config[key] is not None:
            config[key] = whole_number(key, config[key], low, high)
    if not config["DATABASE_URL"]:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'kefu.sqlite3'}"
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    if not config["SECRET_KEY"]:
        if is_production(config):
            raise RuntimeError(
                "SECRET_KEY is not set: production (DATABASE_URL or REDIS_URL set) needs it "
                "to sign agent tokens"
            )
        config["SECRET_KEY"] = instance_secret(Path(instance_path))
    config["WECHAT_API_BASE"] = config["WECHAT_API_BASE"].rstrip("/")
    return config


PRESENCE_TIMEOUT_RANGE = (60, 86400)  # above the event stream's 15 s beat, at most a day


STREAM_LIMITS = {"STREAMS_PER_AGENT": (1, 1000), "STREAMS_PER_ADDRESS": (1, 100_000),
                 "STREAMS_PER_PROCESS": (0, 100_000)}


def presence_timeout(value: object) -> int:
    """Whole seconds in PRESENCE_TIMEOUT_RANGE, or start-up stops naming the variable."""
    return whole_number("PRESENCE_TIMEOUT_SECONDS", value, *PRESENCE_TIMEOUT_RANGE)


def whole_number(name: str, value: object, low: int, high: int) -> int:
    """VALUE as a whole number from LOW to HIGH, or start-up stops naming the setting."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise RuntimeError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return int(text)


def instance_secret(folder: Path) -> str:
    """The embedded default's signing secret: random, made at the first run and kept (owner
    only) in the instance folder, so tokens survive a restart and no two installs share one."""
    path = folder / SECRET_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this install made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds no usable secret: delete it to make a new one")
    return secret


def is_production(config: dict) -> bool:
    """Anything beyond the embedded default (a real database or Redis) is production."""
    return bool(os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"))


def normalize_database_url(url: str) -> str:
    """The usual postgresql:// form is driven with psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
