"""A shop's own web page on an origin of its own, carrying the widget's one tag: what the
widget's browser tests open, as a shopper opens a shop's product page."""
from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.live import free_port

# The page's own styles are hostile on purpose: if any reached into the widget, it would show.
PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>碎花连衣裙 - Acme 旗舰店</title>
<link rel="stylesheet" href="/page.css"></head>
<body><main><h1>夏季碎花连衣裙</h1><p id="price">¥ 199</p><p>{body}</p></main>
<script src="{src}" async {attrs}></script>
</body></html>"""
CSS = """body { font-family: serif; margin: 0; } main { padding: 24px; }
button, div, textarea, input { font-size: 40px !important; color: red; border: 3px dashed orange; }
"""


@contextmanager
def shop_site(bridge_base: str, channel: str = "acme-web", csp: bool = False) -> Iterator[str]:
    """Serve the page at http://localhost:<port>/<anything>?scene=…&user=…&hash=…&name=…; the
    bridge is at 127.0.0.1 (BRIDGE_BASE), so the widget runs cross-origin. CSP: the page sends
    a strict Content-Security-Policy that allows the bridge's origin and nothing inline."""

    def app(environ, start_response):
        request = Request(environ)
        if request.path == "/page.css":
            return Response(CSS, mimetype="text/css")(environ, start_response)
        names = {"scene": "data-scene", "product": "data-product", "order": "data-order",
                 "user": "data-user", "hash": "data-user-hash", "name": "data-user-name"}
        attrs = " ".join(f'{attr}="{html.escape(request.args[key])}"' for key, attr in names.items()
                         if key in request.args)
        body = html.escape(request.args.get("body", "一条适合夏天的裙子。"))
        page = PAGE.format(src=f"{bridge_base}/widget/{channel}/widget.js", attrs=attrs, body=body)
        response = Response(page, mimetype="text/html")
        if csp:
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; script-src {bridge_base}; style-src 'self' {bridge_base}; "
                f"connect-src {bridge_base}; img-src {bridge_base} data: blob:")
        return response(environ, start_response)

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
