"""End-to-end scene fit: rewrite unseen scenes on the embedded default and keep every output.

Reads ``SCENE|EMOTION`` lines, rewrites each with the graph (the embedded model unless
``--backend`` says otherwise) and appends one JSON object per rewrite to ``--out`` (a run that
is stopped resumes where it stopped: scenes already in the file are skipped). Each object has
the final prompt, what was added to the scene, the wall time and the seed, so that the outputs
can be read and labelled (clash / fits) by people or by the eval's independent checker
(``emotion-director eval scene-fit``). At the end it prints the p50 and mean wall time.

    python benchmarks/scene_fit_e2e.py benchmarks/scene_fit/e2e_dev.txt --out /tmp/dev.jsonl

The scene sets: ``benchmarks/scene_fit/e2e_dev.txt`` (scenes used while building scene-anchored
concepts) and ``e2e_test.txt`` (written by someone who had not read the concept graph; read only
to measure).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenes", help="a file of SCENE|EMOTION lines")
    parser.add_argument("--out", required=True, help="JSONL to append to (resumable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from emotion_director import Settings, build_graph

    lines = [ln.strip() for ln in open(args.scenes, encoding="utf-8") if ln.strip()]
    cases = [tuple(part.strip() for part in ln.rsplit("|", 1)) for ln in lines]
    done: set[tuple[str, str]] = set()
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as fh:
            for row in map(json.loads, filter(str.strip, fh)):
                done.add((row["scene"], row["emotion"]))
    graph = build_graph(Settings())
    graph.invoke({"prompt": "a dog in a park", "emotion": "awe", "seed": args.seed})  # warm up
    times = []
    with open(args.out, "a", encoding="utf-8") as out:
        for scene, emotion in cases:
            if (scene, emotion) in done:
                continue
            start = time.perf_counter()
            result = graph.invoke({"prompt": scene, "emotion": emotion, "seed": args.seed})
            wall = time.perf_counter() - start
            times.append(wall)
            final = result["final_prompt"]
            row = {
                "scene": scene,
                "emotion": emotion,
                "final": final,
                "added": final[len(result["subject"]) :].lstrip(", ")
                if final.startswith(result["subject"])
                else final,
                "seed": args.seed,
                "wall_s": round(wall, 2),
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"{wall:5.1f}s  {emotion:<11} {final}", flush=True)
    if times:
        print(
            f"{len(times)} rewrites: p50 {statistics.median(times):.2f} s, "
            f"mean {statistics.fmean(times):.2f} s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
