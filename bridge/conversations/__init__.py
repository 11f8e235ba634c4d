"""Conversations after a shopper arrives: assignment, lifecycle, notices, and the timers."""
