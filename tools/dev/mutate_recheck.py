"""Stage 2 of `make mutate-each`: each mutant a cheap mutmut run left alive, again, against the
module's full list of test files.

    python -m tools.dev.mutate_recheck [--sample N] build/mutate-<module> tests/test_a.py tests/test_b.py ...

It reads the survivors (and timeouts, no-tests) from <dir>/mutmut-report.txt, collects the tests
once, then forks one pytest per mutant with MUTANT_UNDER_TEST set, in <dir>/mutants, as
mutmut's fork server does (the parent only collects: a process that has run the program keeps
asyncio's thread pool, and a child forked from it would wait on threads it does not have).
Writes <dir>/recheck.txt: the mutants still alive, and the module's final tally (pytest's
output per mutant goes to <dir>/recheck.log). A mutant
killed by a subset of the tests is killed by the whole list, so stage 1's kills stand.

With --sample N, only N of the survivors (a seeded random draw, the same every run) are
rechecked and the module's score is an estimate: stage 1's kills, plus the survivors times the
share of the sample killed, with its 95% interval (normal approximation, finite population).
For a module whose full stage 2 would take hours (config: every survivor runs every recording).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import signal
import sys
import time
from pathlib import Path

LEFT = re.compile(r"^(survived|timeout|no tests|not checked|segfault|killed by a signal): (\S+)$")
# pytest's exit codes that kill a mutant: 1, tests failed; 3, an internal error the mutant raised
# (mutmut's rule for both); 2 and 4, the tests could not even be collected, or conftest not
# imported, because the mutant breaks an import (code run at import time). The unmutated run
# must exit 0 first, so 2 or 4 here comes from the mutant.
KILLED = (1, 2, 3, 4)


def _forget_our_modules() -> None:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("tools", "components", "tests")]:
        del sys.modules[loaded]


TIMEOUT = -9  # the code _run_one returns for a child it had to kill


def _run_one(name: str, args: list[str], where: Path, limit: float | None = None) -> int:
    """pytest's exit code for the tests with mutant `name` active ("" for none), in a fork;
    TIMEOUT when it ran past `limit` seconds (a mutant that loops or crawls) and was killed."""
    import pytest

    pid = os.fork()
    if pid == 0:  # the child: one mutant, stop at the first failing test
        os.environ["MUTANT_UNDER_TEST"] = name
        # Our modules are imported again under the mutant, so a mutant in code that runs at
        # import time (a pydantic Field built by a helper function, say) is active too; the
        # parent's copies were built without it. The provider SDKs stay imported.
        _forget_our_modules()
        log = os.open(where / "recheck.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os._exit(int(pytest.main(["-x", "-q", *args])))
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return TIMEOUT
        time.sleep(0.2)


def main(argv: list[str]) -> int:
    sample = None
    if argv[:1] == ["--sample"]:
        sample, argv = int(argv[1]), argv[2:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    where, tests = Path(argv[0]).resolve(), argv[1:]
    report = (where / "mutmut-report.txt").read_text().splitlines()
    module, killed, total = report[1].split()[:3]
    survivors = [m[2] for line in report if (m := LEFT.match(line))]
    names = survivors
    if sample is not None and sample < len(survivors):
        names = sorted(random.Random(20261124).sample(sorted(survivors), sample))
    os.chdir(where / "mutants")
    os.environ["MUTANT_UNDER_TEST"] = ""
    # The tests must import the copy's tools and components, not this checkout's (`-m tools...`).
    sys.path[:] = [os.getcwd(), *(p for p in sys.path if p not in ("", str(Path(__file__).parents[2])))]
    _forget_our_modules()
    import pytest

    args = ["--rootdir=.", "-p", "no:cacheprovider", "-p", "no:xdist", *tests]
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        pytest.main(["--collect-only", "-qqq", *args])
    alive, started = [], time.monotonic()
    # The copy must pass its tests unmutated, or every mutant would count as killed (a test
    # list newer than the copied code, say).
    if _run_one("", args, where) != 0:
        print(f"the tests fail without a mutant in {where}/mutants: see {where}/recheck.log", file=sys.stderr)
        return 1
    # mutmut's rule: a mutant whose tests take over 3x (their unmutated time + 30 s) is a timeout,
    # listed with the survivors for triage.
    limit = 3 * (time.monotonic() - started + 30)
    started = time.monotonic()
    for name in names:
        code = _run_one(name, args, where, limit)
        if code not in KILLED:
            alive.append((name, {0: "survived", TIMEOUT: "timeout"}.get(code, f"exit {code}")))
        print(f"{'killed' if code in KILLED else 'ALIVE '} {code} {name}", flush=True)
    took = f"in {time.monotonic() - started:.0f} s against {len(tests)} files"
    if names is survivors:
        final = int(killed) + len(names) - len(alive)
        score = f"{100.0 * final / int(total):.1f}%"
        head = f"{module} {final} {total} {score}  (stage 1 killed {killed}; rechecked {len(names)} {took})"
    else:
        head = _estimate(module, int(killed), int(total), len(survivors), len(names), len(names) - len(alive), took)
    lines = [head, *(f"{status}: {name}" for name, status in alive)]
    (where / "recheck.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _estimate(module: str, killed: int, total: int, left: int, n: int, k: int, took: str) -> str:
    """The score with `k` of a sample of `n` of the `left` survivors killed, and its 95% interval."""
    share = k / n
    spread = 1.96 * left / total * math.sqrt(share * (1 - share) / n * (left - n) / max(left - 1, 1))
    score = (killed + left * share) / total
    return (
        f"{module} ~{score * total:.0f} {total} {100 * score:.1f}% (95%: {100 * (score - spread):.1f}-"
        f"{100 * (score + spread):.1f}%)  (stage 1 killed {killed}; {k} of a sample of {n} of its {left} "
        f"survivors killed {took})"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
