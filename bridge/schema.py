"""Every table of the bridge, on one metadata, for Alembic and the schema test: the models
live in more than one module (bridge/models.py, bridge/accounts/models.py,
bridge/customers/models.py, bridge/shopdata/models.py, bridge/outreach/models.py)."""
from __future__ import annotations

import bridge.accounts.models  # noqa: F401  (its tables join the metadata on import)
import bridge.customers.models  # noqa: F401
import bridge.outreach.models  # noqa: F401
import bridge.shopdata.models  # noqa: F401
from bridge.models import Base

metadata = Base.metadata
