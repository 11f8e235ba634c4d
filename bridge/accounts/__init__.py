"""Agent accounts: passwords, and the login and tokens every web face shares."""
