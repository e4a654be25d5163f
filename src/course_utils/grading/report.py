"""Grades and feedback: one report per submission, the CSV table and one feedback file per student."""
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.grading.core import Lab, Outcome
from course_utils.grading.sandbox import TRUNCATED


@dataclass
class Report:
    student: str
    outcomes: list[Outcome] = field(default_factory=list)
    error: str = ""
    cell_errors: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0

    def question_points(self, lab: Lab) -> dict[str, float]:
        return {q: sum(o.points for o in self.outcomes if o.question == q) for q in lab.questions}


def write_results(lab: Lab, reports: list[Report], out_csv: Path, feedback_dir: Path | None = None,
                  hidden_details: bool = True) -> None:
    """Write the grade table (one row per student) and one feedback file per student."""
    full_max = {q: 0.0 for q in lab.questions}
    for r in reports[:1]:
        for o in r.outcomes:
            full_max[o.question] += o.max_points
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", *lab.questions, "total", "max_total", "error"])
        for r in reports:
            pts = r.question_points(lab)
            name = "'" + r.student if r.student[:1] in ("=", "+", "-", "@") else r.student  # no spreadsheet formulas
            w.writerow([name, *(f"{pts[q]:g}" for q in lab.questions), f"{sum(pts.values()):g}",
                        f"{sum(full_max.values()):g}", r.error])
    fb = Path(feedback_dir) if feedback_dir else out_csv.with_name(out_csv.stem + "_feedback")
    fb.mkdir(parents=True, exist_ok=True)
    for r in reports:
        (fb / (Path(r.student).stem + ".md")).write_text(feedback_text(lab, r, full_max, hidden_details),
                                                             encoding="utf-8")


def feedback_text(lab: Lab, r: Report, full_max: dict[str, float], hidden_details: bool = True) -> str:
    """Markdown feedback for one student: per-question points and why each test failed."""
    pts = r.question_points(lab)
    lines = [f"# {lab.title}: feedback for {r.student}", "",
             f"Total: {sum(pts.values()):g}/{sum(full_max.values()):g} points", ""]
    if r.error:
        lines += [f"**Not graded:** {r.error}", ""]
    for q, title in lab.questions.items():
        lines.append(f"## {q}: {title} — {pts[q]:g}/{full_max[q]:g}")
        for o in (o for o in r.outcomes if o.question == q):
            kind = "hidden test" if o.hidden else "test"
            if o.hidden and not hidden_details:
                lines.append(f"- {'✓' if o.status == 'pass' else '✗'} {kind} ({o.status})")
                continue
            lines.append(f"- {'✓' if o.status == 'pass' else '✗'} {kind} `{o.test}`"
                         + ("" if o.status == "pass" else f" ({o.status}): {_one_line(o.message)}"))
        lines.append("")
    if r.cell_errors:
        lines += ["## Cells that raised an error", "", *(f"- {_one_line(e)}" for e in r.cell_errors), ""]
    if r.output.strip():
        shown = r.output.removesuffix(TRUNCATED)
        cut = len(shown) > 2000 or r.output.endswith(TRUNCATED)
        text = shown[:2000] + (TRUNCATED if cut else "")
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))  # output cannot close it
        lines += ["## What your cells printed (start)", "", fence + "text", text, fence, ""]
    return "\n".join(lines)


def _one_line(s: str) -> str:
    """A message from student code on one line, so it cannot add headings or lines to the feedback."""
    return " ⏎ ".join(str(s).splitlines())
