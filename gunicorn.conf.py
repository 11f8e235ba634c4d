"""gunicorn's settings when started from the project folder (it reads this file by itself).

Access lines, when an operator turns them on (--access-logfile -), carry the path without its
query string: a webhook's query holds its signature, timestamp and nonce.
"""
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
