"""The results CSV opened in a spreadsheet: text that a spreadsheet would run as a formula is neutralised
(every trigger OWASP lists: = + - @ tab and carriage return at the start of a cell), and nothing else is
touched: empty cells stay empty, numbers stay numbers, ordinary text stays as it was."""

from __future__ import annotations

import csv
import io

from webapp.search.exports import CSV_COLUMNS, csv_text


def row(**cells: object) -> dict[str, object]:
    return {column: cells.get(column, "") for column in CSV_COLUMNS}


def parsed(rows: list[dict[str, object]]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_text(rows))))


def test_empty_cells_stay_empty() -> None:
    [out] = parsed([row(rank=1, score=0.91, video="lobby.mp4", camera="")])
    assert out["camera"] == "" and out["start_wall_clock"] == "" and out["end_wall_clock"] == ""
    assert out["rank"] == "1" and out["score"] == "0.91" and out["video"] == "lobby.mp4"


def test_every_formula_trigger_is_neutralised() -> None:
    triggers = ["=HYPERLINK(\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
    for text in triggers:
        [out] = parsed([row(video=text, camera=text)])
        assert out["video"] == f"'{text}" and out["camera"] == f"'{text}", repr(text)


def test_numbers_and_plain_text_are_untouched() -> None:
    [out] = parsed([row(score=-0.5, start_s=0.0, video="cam-1 east.mp4", camera="Gate 3 (north)")])
    assert out["score"] == "-0.5" and out["start_s"] == "0.0"
    assert out["video"] == "cam-1 east.mp4" and out["camera"] == "Gate 3 (north)"
