"""Execute the notebooks headlessly with the project's tslab kernel and export them to HTML.

The sources in notebooks/ stay untouched: executed copies go to OUT/notebooks/ and the HTML
exports, plus an index page, to OUT/html/. A failing cell stops the run with the notebook
and the cell named, and exit status 1.

usage: run_notebooks.py [--profile full|quick] [--out build] [--export-only] [NOTEBOOK ...]
"""
import argparse
import html
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.sign import NotebookNotary
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "tslab"
TEMPLATES = ROOT / "scripts" / "nbconvert"
sys.path.insert(0, str(TEMPLATES))
from offline_math import MathMLPreprocessor  # noqa: E402  (lives beside the template)


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the project when inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


ERROR_LINE = re.compile(r"^\s*(\w*(Error|Exception)\b.*)$", re.M)


def error_summary(error: Exception) -> str:
    """The last line of the traceback in nbclient's error text.

    The text is the cell's source between two dashed rules, then the traceback, which a kernel
    that replies with an error and no message leaves empty.
    """
    lines = [line.strip() for line in str(error).splitlines()]
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    after = lines[rules[1] + 1:] if len(rules) >= 2 else lines
    informative = [line for line in after if line]
    if informative:
        return informative[-1]
    if len(rules) >= 2:
        return "the kernel reported an error with no message and printed nothing"
    return type(error).__name__


def failing_cell(nb) -> tuple[int, str]:
    """Index (1-based, counting code cells) and message of the cell that failed.

    tslab reports an error as stderr text plus an 'error' reply, so the failing cell is the
    last one that ran, and its message the first `...Error: ...` line it printed.
    """
    failed, message = 0, ""
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        if cell.get("execution_count") is None:
            continue
        failed, message = code_index, ""
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
            elif output.get("output_type") == "stream" and output.get("name") == "stderr" and not message:
                match = ERROR_LINE.search(output.get("text", ""))
                message = match.group(1).strip() if match else (output.get("text", "").strip().splitlines() or [""])[0]
    return failed, message


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Where the run is: notebook i of N, cell k of M, time spent, time left, training status.

    On a terminal it rewrites one status line; otherwise it prints a plain line at most every
    TICK seconds. The time left comes from the per-cell times of the last run of the same
    profile (kept in TIMES), when there is one.
    """

    TICK = 15.0

    def __init__(self, names: list[str], profile: str, times_file: Path):
        self.names, self.profile, self.times_file = names, profile, times_file
        self.tty = sys.stdout.isatty()
        try:
            self.previous = json.loads(times_file.read_text()).get(profile, {})
        except (OSError, ValueError):
            self.previous = {}
        self.current: dict[str, list[float]] = {}
        self.notebook = ""
        self.cell = (0, 0)
        self.cell_started = self.run_started = time.monotonic()
        self.training = ""
        self.last_line = 0.0

    def start_notebook(self, name: str, code_cells: int) -> None:
        self.notebook, self.cell, self.training = name, (0, code_cells), ""
        self.current[name] = []

    def start_cell(self, index: int) -> None:
        if self.cell[0] > 0:
            self.current[self.notebook].append(time.monotonic() - self.cell_started)
        self.cell, self.cell_started, self.training = (index, self.cell[1]), time.monotonic(), ""
        self.show()

    def end_notebook(self) -> None:
        self.current[self.notebook].append(time.monotonic() - self.cell_started)
        if self.tty:
            print("\r\033[K", end="", flush=True)

    def remaining(self) -> float | None:
        """Seconds left by the last run's times, or None when they are unknown."""
        left = 0.0
        for name in self.names[self.names.index(self.notebook):]:
            times = self.previous.get(name)
            if times is None:
                return None
            if name == self.notebook:
                index = self.cell[0]
                left += max(0.0, sum(times[index - 1:index]) - (time.monotonic() - self.cell_started))
                left += sum(times[index:])
            else:
                left += sum(times)
        return left

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.tty and not force and now - self.last_line < self.TICK:
            return
        self.last_line = now
        left = self.remaining()
        parts = [f"notebook {self.names.index(self.notebook) + 1}/{len(self.names)} {self.notebook}",
                 f"cell {self.cell[0]}/{self.cell[1]}", f"elapsed {duration(now - self.run_started)}"]
        if left is not None:
            parts.append(f"ETA {duration(left)}")
        if self.training:
            parts.append(self.training)
        line = " | ".join(parts)
        if self.tty:
            width = os.get_terminal_size().columns if sys.stdout.isatty() else 120
            print(f"\r\033[K{line[:width - 1]}", end="", flush=True)
        else:
            print(f"  {line}", flush=True)

    def kernel_said(self, text: str) -> None:
        """The training display's text/plain form: 'training: <model> ..., epoch i/n ...'."""
        if text.startswith("training: "):
            self.training = text[len("training: "):].splitlines()[0]
            self.show()

    def save(self) -> None:
        """Keeps this run's per-cell times for the next run's estimate."""
        try:
            stored = json.loads(self.times_file.read_text())
        except (OSError, ValueError):
            stored = {}
        stored.setdefault(self.profile, {}).update(self.current)
        self.times_file.parent.mkdir(parents=True, exist_ok=True)
        self.times_file.write_text(json.dumps(stored, indent=1))


class WatchedClient(NotebookClient):
    """nbclient's client, telling `progress` about every cell and every training update."""

    def __init__(self, nb, progress: Progress, **kwargs):
        super().__init__(nb, **kwargs)
        self.progress = progress
        code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        # nbclient calls this for markdown cells too; only code cells are counted.
        self.on_cell_start = lambda cell, cell_index: (
            progress.start_cell(code_cells.index(cell_index) + 1) if cell_index in code_cells else None
        )

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            text = msg["content"].get("data", {}).get("text/plain", "")
            if isinstance(text, str):
                self.progress.kernel_said(text)
        return super().process_message(msg, cell, cell_index)


def execute(source: Path, executed: Path, profile: str, timeout: int, progress: Progress) -> float:
    nb = nbformat.read(source, as_version=4)
    os.environ["BN_PROFILE"] = profile  # the kernel inherits it
    progress.start_notebook(source.name, sum(1 for c in nb.cells if c.cell_type == "code"))
    client = WatchedClient(nb, progress, kernel_name=KERNEL, timeout=timeout, startup_timeout=120,
                           resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.monotonic()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        progress.end_notebook()
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
        index, message = failing_cell(nb)
        if not message:
            message = error_summary(error)
        where = f"code cell {index}" if index else "a cell"
        fail(f"{shown(source)}: {where} failed: {message.splitlines()[0] if message else ''} "
             f"(executed copy: {shown(executed)})")
    progress.end_notebook()
    # Signed for this user's Jupyter, as `jupyter trust` does: opened in JupyterLab, the
    # notebook is trusted, so its figures' scripts run without executing anything again.
    NotebookNotary().sign(nb)
    executed.parent.mkdir(parents=True, exist_ok=True)
    tmp = executed.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(executed)
    return time.monotonic() - started


def export(executed: Path, html_path: Path) -> None:
    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)])
    exporter.register_preprocessor(MathMLPreprocessor(), enabled=True)
    try:
        body, _ = exporter.from_notebook_node(nb)
    except RuntimeError as error:  # a formula the math renderer rejects
        fail(f"{shown(executed)}: {str(error).splitlines()[0]}")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html_path)


def write_index(html_dir: Path, entries: list[tuple[str, str]]) -> Path:
    items = "\n".join(f'<li><a href="{html.escape(name)}.html">{html.escape(title)}</a></li>' for name, title in entries)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>batchnorm-ts notebooks</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 800px; margin: 2em auto; }}</style></head>
<body><h1>batchnorm-ts notebooks</h1><ul>
{items}
</ul>
<p><a href="playground.html">The batch-norm playground</a>: the same models, trained in your browser
(built by <code>npm start</code> or <code>npm run playground</code>).</p></body></html>
"""
    index = html_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def title_of(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["full", "quick"], default=os.environ.get("BN_PROFILE", "full"))
    parser.add_argument("--out", default=str(ROOT / "build"))
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: 600 quick, 7200 full)")
    parser.add_argument("--export-only", action="store_true", help="export already-executed notebooks from OUT/notebooks")
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/*.ipynb)")
    args = parser.parse_args()
    if args.profile not in ("full", "quick"):  # argparse does not check a default taken from BN_PROFILE
        fail(f"BN_PROFILE must be full or quick, got '{args.profile}'")

    sources = [Path(p).resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for source in sources:
        if not source.is_file():
            fail(f"no such notebook: {source}")
    out = Path(args.out).resolve()
    timeout = args.timeout or (600 if args.profile == "quick" else 7200)
    entries = []
    progress = Progress([s.name for s in sources], args.profile, out / "notebook-times.json")
    for source in sources:
        executed = out / "notebooks" / source.name
        html_path = out / "html" / f"{source.stem}.html"
        if args.export_only:
            if not executed.is_file():
                fail(f"{executed} does not exist: run the notebooks first (npm start)")
            seconds = None
        else:
            print(f"running {shown(source)} (profile {args.profile}) ...", flush=True)
            seconds = execute(source, executed, args.profile, timeout, progress)
        export(executed, html_path)
        entries.append((source.stem, title_of(source)))
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        print(f"  {shown(executed)} -> {shown(html_path)}{took}", flush=True)
    if not args.export_only:
        progress.save()
    index = write_index(out / "html", entries)
    print(f"index: {shown(index)}")


if __name__ == "__main__":
    main()
