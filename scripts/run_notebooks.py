"""Execute the notebooks headlessly with the project's tslab kernel and export them to HTML.

The sources in notebooks/ stay untouched: executed copies go to OUT/notebooks/ and the HTML
exports, plus an index page, to OUT/html/. A failing cell stops the run with the notebook
and the cell named, and exit status 1.

usage: run_notebooks.py [--profile full|quick] [--out build] [--export-only] [NOTEBOOK ...]
"""
import argparse
import html
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "tslab"
TEMPLATES = ROOT / "scripts" / "nbconvert"


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
                message = match.group(1).strip() if match else output.get("text", "").strip().splitlines()[0]
    return failed, message


def execute(source: Path, executed: Path, profile: str, timeout: int) -> float:
    nb = nbformat.read(source, as_version=4)
    os.environ["BN_PROFILE"] = profile  # the kernel inherits it
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, startup_timeout=120,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.monotonic()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
        index, message = failing_cell(nb)
        if not message:
            message = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        where = f"code cell {index}" if index else "a cell"
        fail(f"{shown(source)}: {where} failed: {message.splitlines()[0] if message else ''} "
             f"(executed copy: {shown(executed)})")
    executed.parent.mkdir(parents=True, exist_ok=True)
    tmp = executed.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(executed)
    return time.monotonic() - started


def export(executed: Path, html_path: Path) -> None:
    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(nb)
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
</ul></body></html>
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
    for source in sources:
        executed = out / "notebooks" / source.name
        html_path = out / "html" / f"{source.stem}.html"
        if args.export_only:
            if not executed.is_file():
                fail(f"{executed} does not exist: run the notebooks first (npm start)")
            seconds = None
        else:
            print(f"running {shown(source)} (profile {args.profile}) ...", flush=True)
            seconds = execute(source, executed, args.profile, timeout)
        export(executed, html_path)
        entries.append((source.stem, title_of(source)))
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        print(f"  {shown(executed)} -> {shown(html_path)}{took}", flush=True)
    index = write_index(out / "html", entries)
    print(f"index: {shown(index)}")


if __name__ == "__main__":
    main()
