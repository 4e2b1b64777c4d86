"""``make bench``: every benchmark in bench/, one after the other, in one run.

Each bench_*.py script prints its own side-by-side table against libpcap/tcpdump with ratios.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} " + "=" * max(0, 70 - len(script.name)), flush=True)
        status |= subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
