"""The baseline: a bare Flask app on the same URL that answers `success` and does nothing else.

    gunicorn --chdir <repo> bench.bare:app
"""
from flask import Flask

app = Flask(__name__)


@app.post("/hooks/wechat-oa/<key>")
def hook(key: str) -> str:
    return "success"
