"""RQ job functions: thin, take ids, call one service, let failures raise."""
