"""Collecting the workers' results into rows and printing them as one markdown table.

A cell is ``median (min-max) ratio``: the median over the repeats, the range, and the median
divided by the same metric's median on the row's chromadb baseline (omitted on the baseline
rows themselves). "-" marks a metric that does not apply to the row.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One metric: the key in a worker's result, its header, and which direction is better."""

    key: str
    header: str
    higher_is_better: bool
    note: str = ""  # one line under the table saying what the column measures
    recall: bool = False  # printed with three decimals, however small


# Rows are named after their system; the baseline is the chromadb row of the same mode,
# and chromadb persistent for the two rows without a mode (hnswlib, numpy).
LABELS = {
    "ragstore-ephemeral": ("ragstore ephemeral", "chromadb-ephemeral"),
    "ragstore-persistent": ("ragstore persistent", "chromadb-persistent"),
    "ragstore-http": ("ragstore http", "chromadb-http"),
    "chromadb-ephemeral": ("chromadb ephemeral", "chromadb-ephemeral"),
    "chromadb-persistent": ("chromadb persistent", "chromadb-persistent"),
    "chromadb-http": ("chromadb http", "chromadb-http"),
    "hnswlib": ("hnswlib (raw)", "chromadb-persistent"),
    "numpy": ("numpy brute force", "chromadb-persistent"),
}


@dataclass
class Row:
    """One system and its results, one dict per repeat."""

    system: str
    runs: list[dict[str, float | None]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.system][0]

    @property
    def baseline(self) -> str:
        return LABELS[self.system][1]

    def values(self, key: str) -> list[float] | None:
        """The metric over the repeats that measured it; ``None`` if none did (it does not apply, or every repeat failed)."""
        values = [float(value) for run in self.runs if (value := run.get(key)) is not None]
        return values or None

    def median(self, key: str) -> float | None:
        values = self.values(key)
        return None if values is None else statistics.median(values)


def number(value: float, recall: bool = False) -> str:
    """Three significant figures or so, with thousands separators: 0.0312, 0.520, 4.18, 41.8, 418, 4,180."""
    if recall:
        return f"{value:.3f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:#.3g}"  # "#" keeps trailing zeros: 0.330, not 0.33


def ratio(value: float, base: float) -> str:
    if base == 0:
        return "-"
    r = value / base
    return f"{r:,.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def cell(row: Row, base: Row | None, column: Column) -> str:
    """``median (min-max) ratio`` for one row and metric ("-" where it does not apply)."""
    values = row.values(column.key)
    if values is None:
        return "-"
    mid = statistics.median(values)
    text = number(mid, column.recall)
    if len(values) > 1:
        text += f" ({number(min(values), column.recall)}-{number(max(values), column.recall)})"
    base_mid = None if base is None or base is row else base.median(column.key)
    if base_mid is not None:
        text += " " + ratio(mid, base_mid)
    return text


def render(rows: list[Row], columns: list[Column], first_header: str = "system") -> str:
    """The markdown table: one line per row, one cell per column."""
    by_system = {row.system: row for row in rows}
    lines = [
        "| " + " | ".join([first_header, *(column.header for column in columns)]) + " |",
        "|---|" + "--:|" * len(columns),
    ]
    for row in rows:
        base = by_system.get(row.baseline)
        lines.append("| " + " | ".join([row.label, *(cell(row, base, column) for column in columns)]) + " |")
    return "\n".join(lines)


def legend(columns: list[Column]) -> str:
    """The notes under the table: what each column measures and which way is better."""
    out = []
    for column in columns:
        if column.note:
            better = "higher is better" if column.higher_is_better else "lower is better"
            out.append(f"- **{column.header}**: {column.note} ({better}).")
    return "\n".join(out)


def report(rows: list[Row], columns: list[Column], explanation: str, failures: list[str]) -> str:
    """The table, what its cells hold (``explanation``), the legend, and the runs that failed, with blank lines between.

    Example:
        >>> columns = [Column("p50_ms", "p50 (ms)", False, "single-query latency")]
        >>> rows = [Row("numpy", [{"p50_ms": 2.0}, {"p50_ms": 4.0}])]
        >>> print(report(rows, columns, "Each cell: median (min-max).", ["numpy, repeat 3: exit 1"]))
        | system | p50 (ms) |
        |---|--:|
        | numpy brute force | 3.00 (2.00-4.00) |
        <BLANKLINE>
        Each cell: median (min-max).
        <BLANKLINE>
        - **p50 (ms)**: single-query latency (lower is better).
        <BLANKLINE>
        Failed (its cells use the other repeats): numpy, repeat 3: exit 1
    """
    text = f"{render(rows, columns)}\n\n{explanation}\n\n{legend(columns)}"
    return text + "".join(f"\n\nFailed (its cells use the other repeats): {line}" for line in failures)
