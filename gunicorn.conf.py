"""gunicorn's settings when started from the project folder (it reads this file by itself).

Access lines, when an operator turns them on (--access-logfile -), carry the path without its
query string: a webhook's query holds its signature, timestamp and nonce.
"""
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker) -> None:
    """Live event streams may take at most half of a worker's threads (events/slots.py), so
    webhooks and API calls keep the rest; STREAMS_PER_PROCESS set in the environment wins
    (a process that serves streams only sets it near its thread count)."""
    app = getattr(worker, "wsgi", None)
    slots = getattr(app, "extensions", {}).get("stream_slots")
    if slots is not None and slots.limit is None:
        if "gevent" in str(worker.cfg.worker_class_str):
            # A stream is a greenlet, not a thread: the process may hold most of its connections
            # as streams (the widget's, bridge/web/widget/live.py) and keeps a tenth for the rest.
            slots.limit = worker.cfg.worker_connections * 9 // 10
        else:
            slots.limit = worker.cfg.threads // 2
