"""The Ollama API under /api: chat, generate, embed, and model management.

`routes.router` is what the app includes; one module per concern: chat.py,
generate.py, embed.py, models.py (tags, show, ps, delete, copy, version), pull.py,
with the request bodies in schemas.py and the `options` rules in options.py.
"""
