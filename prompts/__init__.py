"""vadagent.prompts."""
