"""What `trainer data preview` costs against rendering the same clips one by one.

Writes the 12-clip contact sheet of a corpus's test split (GIF, 240 px panels, as the command
does) and, for comparison, each of those clips as its own 240 px GIF; prints CPU seconds of each
(less sensitive to other load than wall time) and the peak memory of a child process doing only
that job.

    python benchmarks/preview_sheet.py DATASET_DIR
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

JOBS = {
    "sheet": "from motionchat.data.sheet import write_sheet; write_sheet(root, ids, out / 'sheet.gif')",
    "one_by_one": (
        "from motionchat.data.sheet import load_clip\n"
        "from motionchat.motion.render import render_motions\n"
        "for k, clip_id in enumerate(ids):\n"
        "    joints, caption = load_clip(root, clip_id)\n"
        "    render_motions([joints], out / f'{k}.gif', titles=[clip_id], caption=caption, size_px=240)"
    ),
}

CHILD = """
import resource, sys, time
from pathlib import Path
from motionchat.data.dataset import read_split
root, out = Path(sys.argv[1]), Path(sys.argv[2])
ids = read_split(root, "test")[:12]
before = resource.getrusage(resource.RUSAGE_SELF)
start_rss = before.ru_maxrss
{job}
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(f"{{cpu:.2f}} {{start_rss / 1024:.0f}} {{after.ru_maxrss / 1024:.0f}}")
"""


def main() -> None:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        raise SystemExit("usage: python benchmarks/preview_sheet.py DATASET_DIR")
    for name, job in JOBS.items():
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "-c", CHILD.format(job=job), sys.argv[1], tmp],
                                  capture_output=True, text=True, check=True)
        cpu_s, rss_start, rss_peak = done.stdout.split()
        print(f"{name}: {float(cpu_s):.2f} CPU s, peak memory {rss_peak} MB ({rss_start} MB after imports)")


if __name__ == "__main__":
    main()
