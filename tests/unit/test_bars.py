"""Bars and sparklines drawn from run durations."""

from __future__ import annotations

from brewd.cli.bars import bar, sparkline


def test_sparkline_scales_from_zero_to_the_largest() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"


def test_sparkline_of_equal_durations_is_flat_at_the_top() -> None:
    assert sparkline([2.0, 2.0, 2.0]) == "███"


def test_sparkline_leaves_a_gap_for_runs_without_duration() -> None:
    assert sparkline([1.0, None, 1.0]) == "█ █"


def test_sparkline_of_nothing_or_zeros() -> None:
    assert sparkline([]) == ""
    assert sparkline([0.0, 0.0]) == "▁▁"
    assert sparkline([None]) == " "


def test_bar_fills_to_an_eighth_of_a_cell() -> None:
    assert bar(10, 10, 4) == "████"
    assert bar(5, 10, 4) == "██"
    assert bar(1, 8, 1) == "▏"
    assert bar(9, 16, 2) == "█▏"


def test_bar_shows_a_sliver_for_any_positive_value_and_nothing_for_none() -> None:
    assert bar(0.001, 100, 10) == "▏"
    assert bar(0, 100, 10) == ""
    assert bar(None, 100, 10) == ""
    assert bar(5, 0, 10) == ""


def test_bar_never_overflows_its_width() -> None:
    assert bar(50, 10, 3) == "███"
