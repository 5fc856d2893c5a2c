"""The blinded sheets raters fill in: a CSV (any spreadsheet) and a self-contained HTML form that saves the same
CSV from the browser, with no network access (inline style and script only)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader

from harness.human.key import COLUMNS, CRITERIA, PREFERENCE_QUESTION, PREFERENCES, SCALE
from harness.paths import write_atomic


@dataclass(frozen=True)
class SheetItem:
    """One blinded item as raters see it."""

    item_id: str
    prompt: str
    response_a: str
    response_b: str


def sheet_csv(items: Sequence[SheetItem]) -> str:
    """The CSV sheet: one row per item, the rating cells empty, for one rater to fill in."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        row = {"item_id": item.item_id, "prompt": item.prompt, "response_a": item.response_a}
        row["response_b"] = item.response_b
        writer.writerow([row.get(column, "") for column in COLUMNS])
    return buffer.getvalue()


def sheet_html(items: Sequence[SheetItem], *, title: str) -> str:
    """The HTML form: the criteria explained, one card per item, and a button that saves the ratings as CSV."""
    env = Environment(loader=PackageLoader("harness", "templates"), autoescape=True)
    return env.get_template("human_form.html.jinja").render(
        title=title,
        items=items,
        criteria=CRITERIA,
        scale=SCALE,
        preferences=PREFERENCES,
        preference_question=PREFERENCE_QUESTION,
        columns_json=json.dumps(list(COLUMNS)),
    )


def write_sheets(items: Sequence[SheetItem], out: Path, *, title: str) -> tuple[Path, Path]:
    """``out``/sheet.csv and ``out``/form.html."""
    csv_path = write_atomic(out / "sheet.csv", sheet_csv(items))
    html_path = write_atomic(out / "form.html", sheet_html(items, title=title))
    return csv_path, html_path
