"""Row ids in the API's paths, `<id:conversation_id>`: ASCII digits only (werkzeug's `int` reads
"٣" as 3), and never beyond the database's integer (which failed inside the query: PostgreSQL's
"bigint out of range"). Either way the answer is 404: no such row can exist."""
from __future__ import annotations

from werkzeug.routing import BaseConverter

from bridge.inputs import BIGINT_MAX, whole_number


class RowId(BaseConverter):
    regex = r"[0-9]{1,19}"
    weight = 50  # as werkzeug's own numbers: a number before a string in the same place

    def to_python(self, value: str) -> int:
        """The id; for one beyond the database's integer 0, which no row has, so the view answers
        404 (refused here, werkzeug would answer 405 where the path has a route of another method)."""
        return whole_number(value, 0, BIGINT_MAX) or 0

    def to_url(self, value: int) -> str:
        return str(int(value))
