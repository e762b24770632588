"""The evaluation report: `report.json` (every value), `report.md` (a table per task) and one PNG
plot per task, all written atomically into the report folder.

In the tables each cell is mean ± 95% interval over the repeats; the arrow in a column's name
says which way is better (↑ higher, ↓ lower, → closer to the ground-truth row).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics.stats import mean_ci95
from eval.protocols import TaskResult
from motionchat.fileio import atomic_path, atomic_write_text

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


@dataclass(frozen=True)
class MetricInfo:
    label: str
    better: str  # "higher", "lower" or "real" (closer to the ground truth)
    digits: int = 3

    @property
    def arrow(self) -> str:
        return {"higher": "↑", "lower": "↓", "real": "→"}[self.better]


METRICS: dict[str, MetricInfo] = {
    "r_precision_top1": MetricInfo("R-Prec top-1", "higher"),
    "r_precision_top2": MetricInfo("R-Prec top-2", "higher"),
    "r_precision_top3": MetricInfo("R-Prec top-3", "higher"),
    # against another request's text: near chance (3/32) for a model that reads its prompt
    "r_precision_top3_shuffled": MetricInfo("R-Prec top-3, shuffled texts", "lower"),
    "fid": MetricInfo("FID", "lower"),
    "mm_dist": MetricInfo("MM-Dist", "lower"),
    "diversity": MetricInfo("Diversity", "real"),
    "multimodality": MetricInfo("MultiModality", "higher"),
    "program_exact": MetricInfo("Program acc.", "higher"),
    "program_actions": MetricInfo("Actions acc.", "higher"),
    "diff_correct": MetricInfo("Correct description", "higher"),
    "duration_within_10": MetricInfo("Within 10% of the length", "higher"),
    "duration_error": MetricInfo("Relative error", "lower"),
    "bleu1": MetricInfo("BLEU@1", "higher"),
    "bleu4": MetricInfo("BLEU@4", "higher"),
    "rouge_l": MetricInfo("ROUGE-L", "higher"),
    "cider_d": MetricInfo("CIDEr-D", "higher"),
    "ade_m": MetricInfo("ADE (m)", "lower"),
    "fde_m": MetricInfo("FDE (m)", "lower"),
    "ade_flat_m": MetricInfo("ADE 66-d (m)", "lower"),
    "fde_flat_m": MetricInfo("FDE 66-d (m)", "lower"),
    "mpjpe_mm": MetricInfo("MPJPE (mm)", "lower", 1),
    "global_mpjpe_mm": MetricInfo("global MPJPE (mm)", "lower", 1),
    "codebook_usage": MetricInfo("Codebook usage", "higher"),
    "perplexity": MetricInfo("Perplexity", "higher", 1),
    "malformed": MetricInfo("Malformed", "lower"),
}

TASK_TITLES = {
    "t2m": "Text to motion",
    "t2m_compositional": "Text to motion, compositional split (unseen action combinations)",
    "m2t": "Motion to text",
    "predict": "Motion prediction (first 20% given)",
    "inbetween": "In-betweening (first and last 25% given)",
    "edit": "Motion editing",
    "diff": "Motion difference (how the second motion of an edit pair differs from the first)",
    "duration": "Duration (how long is this motion?)",
    "tokenizer": "Motion tokenizer (reconstruction)",
    "prompt_gap": "Prompt gap per task family (nats per answer token; loss with another example's prompt minus with its own)",
}

HOW_TO_READ = """\
Each cell is the mean ± 95% interval (1.96·std/√n) over the repeats. ↑ higher is better,
↓ lower is better, → closer to the *ground truth* row is better. Baseline rows: *ground truth*
answers with the test data itself (the ceiling: FID 0, the best R-Precision the evaluator can
give), *retrieval* with the nearest training clip or caption, *hold last pose* freezes the last
known frame, *unchanged* returns the motion it was asked to edit. A model is useful where it
beats retrieval and the trivial baselines, and good where it approaches ground truth. Embedding
metrics (FID, R-Precision, MM-Dist, Diversity, MultiModality) are only comparable between
reports made with the same evaluator. *Malformed* is the share of the model's answers that were
unusable (a motion that never ended, a text cut off): they are scored as the notes under the
table say, so read the other columns with it."""


def summarise(result: TaskResult) -> dict[str, Any]:
    rows = {row: {name: mean_ci95(values).to_dict() for name, values in metrics.items()} for row, metrics in result.rows.items()}
    return {
        "title": TASK_TITLES.get(result.task, result.task),
        "rows": rows,
        "values": {row: dict(metrics) for row, metrics in result.rows.items()},
        "breakdowns": result.breakdowns,
        "notes": result.notes,
        "seconds": round(result.seconds, 2),
    }


def _columns(result: TaskResult) -> list[str]:
    seen = []
    for metrics in result.rows.values():
        seen.extend(name for name in metrics if name not in seen)
    return sorted(seen, key=lambda name: list(METRICS).index(name) if name in METRICS else len(METRICS))


def _info(name: str) -> MetricInfo:
    return METRICS.get(name, MetricInfo(name, "higher"))


def markdown_table(result: TaskResult) -> str:
    columns = _columns(result)
    header = "| | " + " | ".join(f"{_info(c).label} {_info(c).arrow}" for c in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for row, metrics in result.rows.items():
        cells = []
        for column in columns:
            values = metrics.get(column)
            cells.append(mean_ci95(values).format(_info(column).digits) if values else "–")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _breakdown_markdown(result: TaskResult) -> str:
    parts = []
    for group, label in (("per_action", "action"), ("per_param", "parameter"), ("per_kind", "edit kind")):
        rows = {row: b[group] for row, b in result.breakdowns.items() if b.get(group)}
        if not rows:
            continue
        keys = sorted({k for values in rows.values() for k in values})
        lines = [f"| {label} | " + " | ".join(rows) + " |", "|---" * (len(rows) + 1) + "|"]
        for key in keys:
            lines.append(f"| {key} | " + " | ".join(f"{100 * values[key]:.1f}%" if key in values else "–" for values in rows.values()) + " |")
        parts.append(f"<details><summary>Accuracy per {label}</summary>\n\n" + "\n".join(lines) + "\n\n</details>")
    return "\n\n".join(parts)


def render_markdown(results: Sequence[TaskResult], meta: dict[str, Any]) -> str:
    lines = ["# motionchat evaluation report", ""]
    lines += [f"- **{key}**: {value}" for key, value in meta.items()]
    lines += ["", "## How to read it", "", HOW_TO_READ, ""]
    for result in results:
        lines += [f"## {TASK_TITLES.get(result.task, result.task)}", "", markdown_table(result), ""]
        breakdown = _breakdown_markdown(result)
        if breakdown:
            lines += [breakdown, ""]
        for note in result.notes:
            lines.append(f"- {note}")
        timing = f"{result.seconds:.1f} s; " if result.seconds else ""  # a split scored from another task's answers takes none
        lines += [f"- {timing}plot: `{result.task}.png`", ""]
    return "\n".join(lines)


def plot_task(result: TaskResult, path: Path) -> None:
    """One bar chart per metric, one bar per row, with the 95% interval as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = _columns(result)
    rows = list(result.rows)
    n_cols = min(5, len(columns))
    n_rows = -(-len(columns) // n_cols)
    # A fixed layout (no tight_layout): drawing stays fast with many panels.
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 0.6 + 1.9 * n_rows), squeeze=False)
    fig.subplots_adjust(left=0.04, right=0.99, top=1 - 0.45 / (0.6 + 1.9 * n_rows), bottom=0.05, wspace=0.35, hspace=0.55)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, column in zip(axes.flat, columns):
        present = [r for r in rows if result.rows[r].get(column)]
        stats = [mean_ci95(result.rows[r][column]) for r in present]
        ax.bar(range(len(present)), [s.mean for s in stats], yerr=[s.ci95 for s in stats], capsize=3,
               color=[colours[rows.index(r) % len(colours)] for r in present])  # fmt: skip
        ax.set_xticks([])
        ax.set_title(f"{_info(column).label} {_info(column).arrow}", fontsize=8)
        ax.tick_params(axis="y", labelsize=6)
    for ax in list(axes.flat)[len(columns) :]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[i % len(colours)]) for i in range(len(rows))]
    fig.legend(handles, rows, loc="upper right", ncol=len(rows), fontsize=7, frameon=False)
    fig.suptitle(TASK_TITLES.get(result.task, result.task), fontsize=9, x=0.02, ha="left")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_report(out_dir: str | Path, results: Sequence[TaskResult], meta: dict[str, Any]) -> list[Path]:
    """Write report.json, report.md and `<task>.png` for each task; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        if result.rows:
            plot_task(result, out_dir / f"{result.task}.png")
            written.append(out_dir / f"{result.task}.png")
    report = {"meta": meta, "tasks": {r.task: summarise(r) for r in results}}
    atomic_write_text(out_dir / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    atomic_write_text(out_dir / REPORT_MD, render_markdown(results, meta))
    return [out_dir / REPORT_JSON, out_dir / REPORT_MD, *written]
