"""An nbconvert preprocessor that turns the LaTeX in markdown cells into MathML.

The HTML exports must render math with no network, and nbconvert's default is MathJax from a
CDN. Here every $...$ and $$...$$ outside code is rendered once by temml (scripts/render-math.mjs)
and put into the cell as raw MathML, which browsers draw natively. The notebook itself keeps its
LaTeX: only the copy being exported changes.
"""
import json
import re
import subprocess
from pathlib import Path

from nbconvert.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parent.parent.parent
RENDERER = ROOT / "scripts" / "render-math.mjs"

# Fenced code blocks and inline code spans are left alone: `${x}` in code is not math.
CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)", re.S)


def _segments(source: str):
    """(is_code, text) pieces of a markdown source."""
    last = 0
    for match in CODE.finditer(source):
        yield False, source[last:match.start()]
        yield True, match.group(0)
        last = match.end()
    yield False, source[last:]


def render(formulas: list[tuple[str, bool]]) -> list[str]:
    if not formulas:
        return []
    payload = json.dumps([{"tex": tex, "display": display} for tex, display in formulas])
    done = subprocess.run(["node", str(RENDERER)], input=payload, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"render-math.mjs failed with exit code {done.returncode}")
    return json.loads(done.stdout)


class MathMLPreprocessor(Preprocessor):
    """Replaces LaTeX in markdown cells with MathML rendered at export time."""

    def preprocess(self, nb, resources):
        cells = [c for c in nb.cells if c.cell_type == "markdown"]
        formulas: list[tuple[str, bool]] = []
        for cell in cells:
            for is_code, text in _segments(cell.source):
                if not is_code:
                    for m in MATH.finditer(text):
                        formulas.append((m.group(1), True) if m.group(1) is not None else (m.group(2), False))
        mathml = iter(render(formulas))

        def substitute(m):
            rendered = next(mathml)
            # A display formula becomes its own HTML block: markdown leaves a block that
            # starts with <div> alone up to the next blank line.
            return f"\n\n<div class=\"math-display\">{rendered}</div>\n\n" if m.group(1) is not None else rendered

        for cell in cells:
            cell.source = "".join(text if is_code else MATH.sub(substitute, text) for is_code, text in _segments(cell.source))
        return nb, resources
