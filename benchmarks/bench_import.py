"""``import jupyter_mlres`` vs ``python -c pass``: median wall time of N fresh interpreters.

Run: ``python benchmarks/bench_import.py [N]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def run(code: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    base = run("pass", n)
    package = run("import jupyter_mlres", n)
    heavy = run(
        "import sys, jupyter_mlres; "
        "assert not {'kubernetes', 'ipywidgets', 'jupyter_server', 'IPython'} & set(sys.modules)",
        3,
    )
    b, p = statistics.median(base), statistics.median(package)
    print(f"python -c pass            median {b:7.1f} ms  (n={n})")
    print(f"import jupyter_mlres      median {p:7.1f} ms  (n={n})")
    print(f"import cost               median {p - b:7.1f} ms  (target < 150 ms)")
    print(f"heavy modules not imported: ok ({len(heavy)} checks)")
    print("import cost: python -X importtime -c 'import jupyter_mlres' 2>&1 | sort -t'|' -k2 -n | tail")


if __name__ == "__main__":
    main()
