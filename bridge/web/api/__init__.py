"""The agent JSON API, /api/v1 (README, Agent API): one blueprint per view module, nested
under this one, which carries the API's error handlers."""
from flask import Blueprint

from bridge.web.api import (
    agents,
    auth,
    blocks,
    catalogue,
    conversations,
    customers,
    errors,
    ids,
    live,
    metrics,
    outbox,
    outreach,
    phrases,
    replies,
    shop,
    shop_data,
    stats,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Before the nested blueprints add their routes, which name it.
bp.record_once(lambda state: state.app.url_map.converters.update(id=ids.RowId))
for view in (auth, agents, blocks, catalogue, conversations, customers, replies, live, metrics, outbox, outreach,
             phrases, shop, shop_data, stats):
    bp.register_blueprint(view.bp)
errors.register(bp)
URL_SPACE = "/api"  # every URL here is the API's: one that names no call is answered in JSON too
render_unrouted = errors.http_error
