"""vadagent.tools.vlm."""
