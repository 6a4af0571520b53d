"""Agents: tools a model may call, and the sandbox its code runs in (docs/agent.md)."""
