"""The WSGI entry point: the only module that builds an app at import time."""
import gc

from bridge import create_app

app = create_app()

# Everything imported and built so far lives as long as the process: move it out of the
# collector's sight. Otherwise each full collection walks ~110k objects (~60 ms on the bench
# machine) in the middle of some request; the webhook bench saw them as its p99 at half load.
gc.freeze()
