"""`danlu bench`: engine speed (pp/tg, llama-bench style) and serving under load.

`speed.bench_model` loads a GGUF from the store and measures prompt processing and
generation; `load.bench_server` drives any OpenAI-compatible server with concurrent
streaming clients. `benchmarks/` scripts use these, not copies of them.
"""

from danlu.bench.load import LoadSettings, bench_server
from danlu.bench.speed import SpeedRow, SpeedSettings, bench_model

__all__ = ["LoadSettings", "SpeedRow", "SpeedSettings", "bench_model", "bench_server"]
