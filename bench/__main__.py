"""`python -m bench [--quick] [--backend sqlite|postgresql|both] [--keep]`."""

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from bench import figures, report
from bench.machine import machine
from bench.run import run, say

RESULTS = Path(__file__).parent / "results.json"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM gets Ctrl-C's treatment, so every `finally` stops what it started.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, a short run")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder with logs and data"
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    counts = figures.QUICK if args.quick else figures.FULL
    signal.signal(signal.SIGTERM, _interrupt)
    meta = machine(backends, args.quick, counts)
    say(
        f"{meta['mode']} run on {meta['nproc']} cores ({meta['cpu']}), "
        f"Python {meta['python']}, backends {', '.join(backends)}"
    )
    try:
        results = run(backends, counts, args.keep, args.quick)
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    meta["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(report.table(results.rows))
    print()
    print("CPU while each load ran (% of one core; this machine has", meta["nproc"], "cores):")
    print(report.cpu_table(results.cpu, report.SUITE_CPU_GROUPS))
    print()
    for note in meta["notes"]:
        print(f"note: {note}")
    disturbed = report.disturbed(results.cpu)
    if disturbed:
        print(
            "warning: other processes on this machine used more than "
            f"{report.NOISE_PERCENT:g}% of a core during: {', '.join(disturbed)}; "
            "those figures and their ratios are skewed"
        )
    loads = (meta["load_average_at_start"], meta["load_average_at_end"])
    print(f"note: load averages (1, 5, 15 min) at start {loads[0]}, at end {loads[1]}")
    report.write_json(RESULTS, results.rows, results.cpu, results.details, meta)
    say(f"rows written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
