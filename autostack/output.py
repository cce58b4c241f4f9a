"""Where the client writes: a terminal gets colour, tables and live progress; a pipe gets
plain lines; ``--json`` gets exactly one JSON document on stdout and nothing else."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from autostack import formatting
from autostack.errors import CliError


class Output:
    def __init__(self, json_mode: bool, stdout: IO[str] | None = None) -> None:
        self.json_mode = json_mode
        stream = stdout or sys.stdout
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)()) and not json_mode
        # Not a terminal: no colour, no live display, no wrapping of long lines.
        self.console = Console(
            file=stream,
            force_terminal=self.tty,
            no_color=not self.tty,
            highlight=False,
            soft_wrap=not self.tty,
            width=None if self.tty else 200,
        )
        self.err = Console(stderr=True, highlight=False, no_color=not self.tty, soft_wrap=True)

    # -- plain text ----------------------------------------------------------------------

    def say(self, text: str = "", style: str | None = None) -> None:
        if not self.json_mode:
            self.console.print(text, style=style if self.tty else None, markup=False)

    def heading(self, text: str) -> None:
        self.say(text, style="bold")

    def pairs(self, lines: list[tuple[str, str]]) -> None:
        width = max((len(label) for label, _ in lines), default=0)
        for label, value in lines:
            self.say(f"  {label.ljust(width)}  {value}")

    def log_text(self, text: str) -> None:
        if not self.json_mode and text:
            self.console.out(text.rstrip("\n"), highlight=False)

    def document(self, value: Any) -> None:
        """The one JSON document of a ``--json`` run."""
        self.stream.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
        self.stream.flush()

    def error(self, error: CliError) -> None:
        if self.json_mode:
            self.document(error.to_json())
        else:
            self.err.print(
                f"error: {error.line()}", style="red" if self.tty else None, markup=False
            )

    # -- tables --------------------------------------------------------------------------

    def _table(self) -> Table:
        # A pipe gets plain columns (no box-drawing characters).
        return Table(box=box.SIMPLE_HEAD if self.tty else None, pad_edge=False)

    def targets(self, rows: list[dict[str, Any]]) -> None:
        table = self._table()
        for column in ("", "target", "fits", "monthly", "free tier", "why"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                "*" if row["recommended"] else "",
                row["target"],
                "yes" if row["fits"] else "no",
                formatting.money(row["monthly_usd"]),
                formatting.money(row["monthly_free_tier_usd"]),
                ("recommended: " if row["recommended"] else "") + (row["why"] or ""),
            )
        if not self.json_mode:
            self.console.print(table)

    def rows(self, columns: list[str], rows: list[list[str]]) -> None:
        table = self._table()
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        if not self.json_mode:
            self.console.print(table)

    # -- progress ------------------------------------------------------------------------

    @contextmanager
    def progress(self, title: str) -> Any:
        """Yields ``update(percent, message)``: a live bar on a terminal, a line per change
        in a pipe, nothing with --json."""
        if self.json_mode:
            yield lambda percent, message: None
            return
        if not self.tty:
            last: list[Any] = [None]

            def plain(percent: int, message: str | None) -> None:
                if (percent, message) != last[0]:
                    last[0] = (percent, message)
                    self.say(f"{title}: {percent}% {message or ''}".rstrip())

            yield plain
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[message]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        task: TaskID = bar.add_task(title, total=100, message="")
        with bar:

            def live(percent: int, message: str | None) -> None:
                bar.update(task, completed=percent, message=message or "")

            yield live
