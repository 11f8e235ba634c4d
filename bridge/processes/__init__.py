"""The processes beside the web server: the worker, and the embedded default (make run)."""
