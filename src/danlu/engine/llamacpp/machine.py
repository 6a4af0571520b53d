"""What llama.cpp makes of this machine, and the one rule danlu puts over its defaults.

The rule: on a CPU with AMX, weights are not repacked unless asked for. llama.cpp repacks
quantized weights into its AMX buffer type there, and that matmul crashes at the first
decode (llama.cpp #20824; llama-server and llama-bench die the same way). Loading without
extra buffer types is llama-server's `--no-repack`.
"""

from __future__ import annotations

from danlu.system import Cpu, cpu

REPACK_ON = "llama.cpp's default (weights laid out for this CPU's fast kernels)"
REPACK_OFF_AMX = "this CPU has AMX, whose matmul crashes in llama.cpp (#20824)"


def system_info() -> dict[str, str]:
    """llama.cpp's own view of the CPU: the features it was built for (AVX2 = 1, ...)."""
    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    info: dict[str, str] = {}
    for part in text.replace("\n", "|").split("|"):
        key, sep, value = part.partition("=")
        if sep:
            info[key.split(":")[-1].strip()] = value.strip()
    return info


def built_with_amx(info: dict[str, str]) -> bool:
    """Whether this llama.cpp has AMX kernels compiled in (its AMX buffer type exists)."""
    return any(key.startswith("AMX") and value == "1" for key, value in info.items())


def repack_rule(machine: Cpu, info: dict[str, str]) -> tuple[bool, str]:
    """(repack, why) for a load that does not say: off where AMX kernels could run."""
    if machine.has_amx or built_with_amx(info):
        return False, REPACK_OFF_AMX
    return True, REPACK_ON


def resolve_repack(asked: bool | None) -> bool:
    """What a load does: `asked` when given, else the rule for this machine."""
    return asked if asked is not None else repack_rule(cpu(), system_info())[0]
