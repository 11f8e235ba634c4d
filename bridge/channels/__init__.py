"""Channels: the contract adapters speak, the registry of kinds, and what the bridge keeps of them."""
