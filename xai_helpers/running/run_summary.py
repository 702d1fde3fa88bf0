"""What a run says about itself when it ends: the table of notebooks printed to the console, and ``summary.md`` (each
notebook's status, wall time, slowest cell and, where its results were reused, the run that computed them, then
its scalar metrics; the report appends its findings and tables to it)."""
from __future__ import annotations

import json
from pathlib import Path

from ..study import describe_cell, metrics_file, seed_folder


def _flat_scalars(metrics: dict, prefix: str = "", depth: int = 0) -> dict:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, (int, float, str, bool)) and not isinstance(v, dict):
            out[prefix + k] = v
        elif isinstance(v, dict) and depth < 1 and all(not isinstance(x, (dict, list)) for x in v.values()) \
                and len(v) <= 4:
            out.update(_flat_scalars(v, f"{prefix}{k}.", depth + 1))
    return out


def write_summary(run_root: Path, records: list[dict], info: dict) -> None:
    """``summary.md`` from the notebooks' ``records``; ``info`` holds the run's state, profile, seeds, device, git
    sha, whether it has ``seed-N/`` folders (``multi_seed``) and which notebooks are study-level (``study_level``)."""
    lines = [f"# Study run {run_root.name}", "",
             f"- state: **{info['state']}**", f"- profile: {info['profile']}, seeds: {info['seeds']}, "
             f"device: {info['device']}", f"- git: {info['git_sha']}", "",
             "| notebook | seed | status | wall time (s) | slowest cell | reused from run |", "|---|---|---|---|---|---|"]
    for r in records:
        secs = f"{r['seconds']:.1f}" if r.get("seconds") is not None else "–"
        slowest = describe_cell(r["slowest_cells"][0]).replace("|", "\\|") if r.get("slowest_cells") else "–"
        lines.append(f"| {r['notebook']} | {r.get('seed')} | {r['status']} | {secs} | {slowest} | "
                     f"{r.get('reused_from') or '–'} |")
    for r in records:
        if r.get("error"):
            lines += ["", f"**{r['notebook']} (seed {r.get('seed')}) failed** in {r['error']}"]
    for r in records:
        per_seed = info["multi_seed"] and r["notebook"] not in info["study_level"]
        path = metrics_file(seed_folder(run_root, r["seed"]) if per_seed else run_root, r["notebook"])
        if r["status"] == "ok" and path.exists():
            scalars = _flat_scalars(json.loads(path.read_text()))
            lines += ["", f"## {r['notebook']} (seed {r.get('seed')})", "", "| metric | value |", "|---|---|"]
            for k, v in scalars.items():
                lines.append(f"| {k} | {f'{v:.4g}' if isinstance(v, float) else v} |")
    (run_root / "summary.md").write_text("\n".join(lines) + "\n")


def print_table(records: list[dict], log) -> None:
    log("")
    log(f"{'notebook':<28} {'seed':>5} {'status':<12} {'wall time':>10}")
    log("-" * 58)
    for r in records:
        secs = f"{r['seconds']:.1f} s" if r.get("seconds") is not None else "-"
        status = "reused" if r.get("reused_from") else r["status"]
        log(f"{r['notebook']:<28} {str(r.get('seed')):>5} {status:<12} {secs:>10}")
