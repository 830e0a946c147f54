"""MiniLM in numpy with one BLAS thread against BLAS's default, idle and beside a busy process.

The encoder holds numpy's BLAS to one thread while it runs (``scenefit.encoder.one_blas_thread``).
This measures why: each line times the same texts both ways, alternated, in one run, and prints
the ratio (default threads / one thread; above 1 means one thread is faster). ``small`` is one
scene's reading (its 1-3 word windows, what every new scene costs before the first model call),
``batch`` 64 texts of ~20 tokens (an eval's or a build's encoding). ``busy`` runs the same
beside one process that spins on a core, as a rewrite's model, a test worker or any other program
does on a user's machine.

    python benchmarks/minilm_threads.py [--reps 7]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time

from threadpoolctl import ThreadpoolController

from emotion_director.scenefit import encoder as encoder_module
from emotion_director.scenefit.encoder import MiniLMEncoder
from emotion_director.scenefit.model import windows

SCENE = "a glassblower's apprentice sweeping up shards after closing in a cramped studio"


def timed(enc: MiniLMEncoder, texts: list[str], limit: contextlib.AbstractContextManager) -> float:
    enc._cache.clear()  # every text read anew
    with limit:
        start = time.perf_counter()
        enc.encode(texts)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    enc = MiniLMEncoder.load()
    controller = ThreadpoolController()
    default = max(i["num_threads"] for i in controller.info() if i["user_api"] == "blas")
    # the encoder's own limit is lifted for the default side (it would hold it to one thread)
    encoder_module.one_blas_thread = contextlib.nullcontext  # type: ignore[assignment]
    cases = {"small": windows(SCENE), "batch": [f"{SCENE}, take {i}" for i in range(64)]}
    print(f"BLAS threads by default: {default}")
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(0.5)
            for name, texts in cases.items():
                one, many = [], []
                for _ in range(args.reps):  # alternated, so that drift hits both sides
                    one.append(timed(enc, texts, controller.limit(limits=1, user_api="blas")))
                    many.append(timed(enc, texts, contextlib.nullcontext()))
                a, b = statistics.median(one), statistics.median(many)
                print(
                    f"{'busy' if busy else 'idle'} {name:5} ({len(texts)} texts): one thread "
                    f"{a * 1000:.0f} ms, {default} threads {b * 1000:.0f} ms, "
                    f"default / one: {b / a:.2f}"
                )
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()


if __name__ == "__main__":
    main()
