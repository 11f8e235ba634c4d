"""The inbound pipeline: a webhook call's messages, each stored once and answered.

`webhook.handle` runs one call through the adapter and `pipeline.ingest`; `decision` says
what a message asks for (pure), `statements` and `store` write it.
"""
