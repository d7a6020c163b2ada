"""vadagent.evals."""
