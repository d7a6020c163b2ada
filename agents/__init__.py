"""vadagent.agents."""
