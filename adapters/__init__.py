"""Channel adapters: one module per channel, each verify → parse → respond and send.

Only adapters know a channel's wire format. They depend on the bridge's channel contract
(`bridge.channels.contract`) and nothing else of it; `bridge.channels.registry` is the one
place that names them.
"""
