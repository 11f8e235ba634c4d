"""An agent starting a conversation (主动发起会话), within each channel's rules (reach.py)."""
