"""vadagent.tools."""
