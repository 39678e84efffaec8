"""`python -m engine batch JOB.json [--address ADDR] [--workers N] [--json]`: classify the scenes of a job
file (engine/batch/job.py) block by block on Ray (engine/batch/run.py); rerunning a killed job resumes it.

Exit codes: 0 every scene done; 2 a user error before any work (a bad job file, model or output folder);
3 some scenes failed (the others are done; the summary says which failed and why); 130 / 143 cancelled /
terminated (finished blocks are kept: rerun the job to resume).
"""
from __future__ import annotations

import argparse
import json
import sys

EXIT_SCENES_FAILED = 3


def add_parser(sub) -> None:
    run = sub.add_parser("batch", help="classify the scenes of a job file (JOB.json) on Ray, block by block, "
                                       "resuming a killed job")
    run.add_argument("job", help="job file (bdgf:exportjob in QGIS writes one; schema: engine/batch/job.py)")
    run.add_argument("--address", help="a running Ray cluster (e.g. 10.0.0.1:6379, started with "
                                       "`ray start --head`); default: a local Ray on this machine")
    run.add_argument("--workers", type=int, help="number of workers, each with one opened model (default: "
                                                 "one per CPU core of the cluster, one per GPU with device "
                                                 "cuda)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


class _Lines:
    """Progress as plain lines on stderr (one per block: a bar would hide them in logs)."""

    def set_progress(self, percent: float) -> None:
        pass

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def is_cancelled(self) -> bool:
        return False


def run(args: argparse.Namespace) -> int:
    from ..errors import BDGFError
    from .job import load_job
    from .run import run_batch
    from .summary import print_summary

    job = load_job(args.job)
    if args.workers is not None and args.workers < 1:
        raise BDGFError(f"--workers must be at least 1, got {args.workers}.")
    summary = run_batch(job, address=args.address, workers=args.workers, progress=_Lines())
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print_summary(summary)
    return EXIT_SCENES_FAILED if summary.failed else 0
