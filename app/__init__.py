"""vadagent.app."""
