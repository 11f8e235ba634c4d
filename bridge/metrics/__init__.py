"""The metrics page's figures: per day in the shop's time zone, for the shop and each agent
(README, Agent API, GET /stats/daily)."""
