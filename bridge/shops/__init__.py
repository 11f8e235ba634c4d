"""Shops from config files: the file's schema, and loading it."""
