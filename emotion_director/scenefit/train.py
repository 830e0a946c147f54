"""Fit the scene-fit model on the dev split of labelled pairs (a development-time tool).

    python -m emotion_director.scenefit.train benchmarks/scene_fit/dev.jsonl

Writes ``emotion_director/scenefit/data/weights.json``: the window threshold ``tau`` and the L2
strength ``C`` (chosen by 5-fold cross-validated log-loss on dev, folds by scene, scored on the
handwritten pairs only: the older v0 pairs are scenes the word tables were written for, so they
train but do not choose), and the decision threshold: the lowest whose cross-validated
handwritten-dev precision is >= ``--precision``. ``--no-explicit`` drops the feature "the old word
tables flag it"; ``--no-distractors`` drops the colour/light/framing rivals. The test split is
never read here.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path

from emotion_director.errors import DataFileError

TAUS = (0.25, 0.30, 0.35, 0.40)
CS = (3.0, 10.0, 30.0, 100.0)


def read_pairs(path: str | Path) -> list[dict]:
    from emotion_director.files import read_jsonl

    rows = []
    for n, row in read_jsonl(path, what="labelled pairs file", item="labelled pair"):
        if not isinstance(row.get("clash"), bool):
            raise DataFileError(f"{path}:{n}: 'clash' must be true or false")
        rows.append(row)
    return rows


def feature_matrix(fit, rows: list[dict]):
    import numpy as np

    by_scene: dict[str, list[str]] = {}
    for r in rows:
        by_scene.setdefault(r["scene"], []).append(r["phrase"])
    for scene, phrases in by_scene.items():
        fit.check_many(scene, phrases)  # one batch per scene
    feats = [fit.features(r["scene"], r["phrase"])[0] for r in rows]
    names = sorted(feats[0])
    return np.array([[f[n] for n in names] for f in feats]), names


def fit_logistic(x, y, c: float):
    """L2 logistic regression (scikit-learn, a development-time dependency)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def cross_val(x, y, groups, c: float, folds: int = 5):
    """Out-of-fold probabilities, folds by scene (no scene is in its own training folds)."""
    import numpy as np

    uniq = sorted(set(groups))
    rng = np.random.default_rng(0)
    rng.shuffle(uniq)
    fold_of = {g: i % folds for i, g in enumerate(uniq)}
    pred = np.zeros(len(y))
    for k in range(folds):
        test = np.array([fold_of[g] == k for g in groups])
        w, b = fit_logistic(x[~test], y[~test], c)
        pred[test] = 1.0 / (1.0 + np.exp(-(x[test] @ w + b)))
    return pred


def precision_recall(pred, y, threshold):
    flagged = pred >= threshold
    tp = float((flagged & (y == 1)).sum())
    precision = tp / max(flagged.sum(), 1)
    recall = tp / max((y == 1).sum(), 1)
    return precision, recall


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    from emotion_director.scenefit.model import SceneFit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev")
    parser.add_argument("--precision", type=float, default=0.8)
    parser.add_argument("--no-explicit", action="store_true")
    parser.add_argument("--no-distractors", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "data" / "weights.json"))
    args = parser.parse_args(argv)
    rows = read_pairs(args.dev)
    y = np.array([1.0 if r["clash"] else 0.0 for r in rows])
    groups = [r["scene"] for r in rows]
    chooses = np.array([str(r.get("source", "")).startswith("handwritten") for r in rows])
    if not chooses.any():
        chooses[:] = True
    options = {"explicit": not args.no_explicit, "distractors": not args.no_distractors}
    best = None
    eps = 1e-6
    for tau in TAUS:
        fit = SceneFit(
            weights={"tau": tau, "coef": {}, "intercept": 0.0, "threshold": 0.5, **options}
        )
        x, names = feature_matrix(fit, rows)
        for c in CS:
            pred = cross_val(x, y, groups, c)
            yc, pc = y[chooses], pred[chooses]
            loss = float(-(yc * np.log(pc + eps) + (1 - yc) * np.log(1 - pc + eps)).mean())
            print(f"tau {tau:.2f} C {c}: cross-validated log-loss {loss:.4f}")
            if best is None or loss < best[0]:
                best = (loss, tau, c, x, names, pred)
    loss, tau, c, x, names, pred = best
    threshold = None
    for t in np.arange(0.2, 0.96, 0.01):
        p, _ = precision_recall(pred[chooses], y[chooses], t)
        if p >= args.precision:
            threshold = float(t)
            break
    if threshold is None:
        raise SystemExit(
            f"no threshold reaches a cross-validated precision of {args.precision} "
            "on dev; lower --precision or label more pairs"
        )
    p, r = precision_recall(pred[chooses], y[chooses], threshold)
    auc = _auc(pred[chooses], y[chooses])
    w, b = fit_logistic(x, y, c)
    out = {
        "tau": tau,
        "C": c,
        "coef": {n: round(float(v), 5) for n, v in zip(names, w) if abs(v) > 1e-6},
        "intercept": round(float(b), 5),
        "threshold": round(threshold, 3),
        **options,
        "provenance": {
            "trained_on": Path(args.dev).name,
            "sha256": hashlib.sha256(Path(args.dev).read_bytes()).hexdigest()[:16],
            "pairs": len(rows),
            "date": _dt.date.today().isoformat(),
            "cross_validated_handwritten_dev": {
                "precision": round(p, 3),
                "recall": round(r, 3),
                "auc": round(auc, 3),
                "log_loss": round(loss, 4),
            },
        },
    }
    fd, tmp = tempfile.mkstemp(dir=Path(args.out).parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, args.out)
    print(
        f"tau {tau}, C {c}, threshold {threshold:.2f}: cross-validated handwritten-dev "
        f"precision {p:.3f}, recall {r:.3f}, auc {auc:.3f}, log-loss {loss:.4f} -> {args.out}"
    )


def _auc(pred, y) -> float:
    pos, neg = pred[y == 1], pred[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(
        ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
        / (len(pos) * len(neg))
    )


if __name__ == "__main__":
    main()
