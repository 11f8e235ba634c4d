"""EXPERIMENT: the app with bench/lean_ingest.py in place of bridge.ingest.ingest (run_oa.py --lean)."""
import bridge.webhook
from bench import lean_ingest
from wsgi import app  # noqa: F401  (gunicorn bench.wsgi_lean:app)

bridge.webhook.ingest = lean_ingest.ingest
