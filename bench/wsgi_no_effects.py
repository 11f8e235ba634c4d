"""MEASURING AID: the app without its after-commit Redis work (the live events' write, the
dispatch claim): what that work costs a push. Not a configuration to run.

    bench/run_oa.py --full-app bench.wsgi_no_effects:app
"""
import bridge.effects
from wsgi import app  # noqa: F401

bridge.effects.Effects.after_commit = lambda self: None
