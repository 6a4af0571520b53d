"""The parity check's near-tie rule: which top-1 flips show damage and which are rounding."""

from __future__ import annotations

import pytest

from danlu.export.parity import NEAR_TIE, near_tie

RANKED = ((7, -0.50), (9, -0.60), (3, -2.00))  # the reference's best tokens at one position


@pytest.mark.parametrize(
    ("pick", "expected"),
    [
        (9, True),  # 0.10 nats below the reference's own pick: a near-tie
        (3, False),  # 1.5 nats below: the candidate really changed its mind
        (42, False),  # not among the reference's best at all
    ],
)
def test_a_flip_is_a_near_tie_only_when_the_reference_had_it_close(pick, expected):
    assert near_tie(RANKED, pick) is expected


def test_the_boundary_is_exclusive():
    ranked = ((1, 0.0), (2, -NEAR_TIE))
    assert near_tie(ranked, 2) is False
    assert near_tie(((1, 0.0), (2, -NEAR_TIE / 2)), 2) is True


def test_the_table_prints_every_column_its_legend_describes(capsys):
    from danlu.cli.provenance import print_parity
    from danlu.export.parity import ParityReport, ParityRow

    report = ParityReport("the trained model", 24)
    report.add(ParityRow("f16", 1000, greedy=4, prompts=4, top1=1.0, ll=-0.5))
    quant = ParityRow("q4_k_m", 500, 2, 4, top1=0.9, ll=-0.6, flips=9, near_ties=7)
    report.add(quant)
    print_parity(report.to_dict())
    out, legend = capsys.readouterr()
    header = next(line for line in out.splitlines() if "variant" in line)
    for described in ("greedy", "Δ", "flips", "near-ties"):
        assert described in legend and described in header, described
    q4 = next(line for line in out.splitlines() if "q4_k_m" in line)
    assert "9 (7)" in q4
