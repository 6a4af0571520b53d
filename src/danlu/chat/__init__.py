"""Conversations: messages, chat templates, context fitting, saved sessions and tool calling."""
