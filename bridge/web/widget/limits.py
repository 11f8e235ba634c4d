"""How often one widget shopper and one address may call the widget's public API, counted in
Redis so that every web process counts together: a fixed window per (what, who), 429 with
Retry-After beyond. If Redis cannot be reached the limit is not applied (logged): shoppers keep
writing, and the body caps still stand."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from bridge import keys
from bridge.web.api.errors import APIError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: int


# (per shopper, per address): an address may be a shop's office or a carrier's NAT
LIMITS = {
    "visitor": (None, Rate(30, 600)),  # new visitors
    "check": (None, Rate(600, 600)),  # a kept token checked, once a page load
    "state": (Rate(60, 60), Rate(600, 60)),  # the widget reads it on opening and after a notice
    "message": (Rate(30, 60), Rate(300, 60)),
    "image": (Rate(10, 600), Rate(60, 600)),
    "typing": (Rate(40, 60), Rate(600, 60)),
    "context": (Rate(30, 60), Rate(300, 60)),
    "viewed": (Rate(60, 60), Rate(600, 60)),  # product pages opened
}


def check(redis, what: str, shopper: str | None, address: str, channel_id: int = 0, clock=time.time) -> None:
    """Count one call of WHAT by SHOPPER (None: not known yet) of the channel from ADDRESS;
    APIError 429 past a limit. A shopper is counted per channel: user 1001 of one shop is not
    user 1001 of another."""
    per_shopper, per_address = LIMITS[what]
    subjects = [(f"address:{address or 'unknown'}", per_address)]
    if shopper is not None and per_shopper is not None:
        digest = hashlib.sha256(f"{channel_id}\0{shopper}".encode()).hexdigest()[:24]
        subjects.append((f"shopper:{digest}", per_shopper))
    now = clock()
    try:
        pipe = redis.pipeline(transaction=False)
        counted = []
        for subject, rate in subjects:
            window = int(now // rate.seconds)
            key = keys.widget_calls(what, subject, window)
            pipe.incr(key)
            pipe.expire(key, rate.seconds + 1)
            counted.append((rate, (window + 1) * rate.seconds - now))
        answers = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis away: see the module's docstring
        log.warning("widget %s limit not checked: Redis unavailable (%s)", what, type(exc).__name__)
        return
    for i, (rate, left) in enumerate(counted):
        if answers[2 * i] > rate.calls:
            raise APIError(429, "too_many_requests", f"too many {what} calls; try again shortly",
                           headers={"Retry-After": str(max(1, int(left + 0.999)))})
