"""vadagent.tools.scorer."""
