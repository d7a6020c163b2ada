"""Explain: the agent graph that turns candidates into explained events."""
