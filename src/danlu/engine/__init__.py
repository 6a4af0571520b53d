"""The inference core: the Engine protocol, sampling and load settings, the backends
(llama.cpp, transformers) and what they share (token checks, text streams, prompt cache)."""
