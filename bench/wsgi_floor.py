"""MEASURING AID: the app with `ingest` stubbed out (no storage, no keyword match, no
effects): what routing, signature and XML parsing alone cost next to the bare app.

    bench/run_oa.py --full-app bench.wsgi_floor:app
"""
import bridge.ingest.webhook
from wsgi import app  # noqa: F401

bridge.ingest.webhook.ingest = lambda *args, **kwargs: None
