"""One notebook executed by papermill in the child process that the runner starts
(``python -P .../running/notebook_job.py NOTEBOOK OUTPUT PARAMETERS.yaml --cwd DIR``: a script, so that starting it
imports neither this package nor torch; it imports nothing but the standard library and papermill).

It does what papermill's command line does (the parameters file read the same way, the cells' output logged as it
comes, exit 138 when the kernel dies), with one difference: the kernel is stopped at once after the last cell
(nbclient's ``shutdown_kernel="immediate"``) instead of being asked to shut down and waited for. Asked, a study
kernel first tears down its interpreter (torch, captum, scipy, matplotlib): 1-2 s of CPU per notebook, after
every output has been saved and every file the notebook writes has been closed. papermill's command line has no
option for it; its Python API passes the keyword on to nbclient.
"""
from __future__ import annotations

import argparse
import logging
import sys
import traceback


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="notebook_job.py", description=__doc__.split("\n\n")[0])
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("parameters", help="YAML file of the parameters to inject")
    p.add_argument("--cwd", required=True, help="the kernel's working folder")
    p.add_argument("--execution-timeout", type=int, default=None, help="seconds a cell may run")
    args = p.parse_args(argv)

    import nbclient
    import papermill
    from papermill.iorw import read_yaml_file

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        papermill.execute_notebook(args.notebook, args.output, parameters=read_yaml_file(args.parameters) or {},
                                   kernel_name="python3", progress_bar=False, log_output=True, cwd=args.cwd,
                                   execution_timeout=args.execution_timeout, shutdown_kernel="immediate")
    except nbclient.exceptions.DeadKernelError:
        traceback.print_exc()
        return 138  # as papermill's command line: the runner says "the kernel died"
    return 0


if __name__ == "__main__":
    sys.exit(main())
