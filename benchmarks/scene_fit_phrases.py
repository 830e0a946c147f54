"""Where end-to-end clashes come from: the blind labels of every end-to-end set, per added phrase.

Each judge file of ``benchmarks/scene_fit/e2e_runs/`` holds two readers' labels of shuffled
prompts (``judge*_in.jsonl``, ``judge*_key.json``, one ``judge*_R.jsonl`` per reader). This
script splits every prompt into the phrases the rewrite added (the eval checker's
``prompt_phrases``), labels each phrase

* ``clash`` when both readers named it in a prompt they both called a clash,
* ``fine`` when neither named it,
* ``unsure`` otherwise,

matches it to its concept line (``knowledge/data/concept_settings.tsv``: facet and setting tags)
and prints the clash rate by facet and by what the concept presupposes (nothing, an enclosure
only, a kind of place, a time or weather). It reads labels only: it scores no model.

    python benchmarks/scene_fit_phrases.py [--out phrases.jsonl] [--risk concept_risk.tsv]
        [--pairs reader_pairs.npz] [--knn] [--trim]

``--pairs`` writes the labels as MiniLM vectors for :mod:`emotion_director.scenefit.reader_risk`
(``emotion_director/scenefit/data/reader_pairs.npz``); ``--knn`` measures that ranking on later
sets, trained on earlier ones, beside the per-concept count table; ``--trim`` measures what
giving up each prompt's riskiest cue (``agents.consensus.trim_risky``) buys on later sets.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

from emotion_director.files import atomic_write

RUNS = Path(__file__).parent / "scene_fit" / "e2e_runs"
#: judge file stem -> its two readers (see e2e_runs/README.md)
JUDGES = {
    "judge": ("A", "B"),
    "judge2": ("C", "D"),
    "judge4": ("F", "G"),
    "judge5": ("E", "H"),
    "judge6": ("J", "K"),
    "judge7": ("L", "M"),
    "judge8": ("N", "P"),
    "judge9": ("Q", "R"),
    "judge10": ("U", "V"),
    "judge11": ("S", "T"),
    "judge12": ("W", "X"),
    "judge13": ("Y", "Z"),
    "judge14": ("AA", "AB"),
    "judge15": ("AC", "AD"),
    "judge16": ("AE", "AF"),
    "judge17": ("AG", "AH"),
    "judge18": ("AI", "AJ"),
    "judge19": ("AK", "AL"),
    "judge20": ("AM", "AN"),
    "judge21": ("AO", "AP"),
    "judge22": ("AQ", "AR"),
    "judge23": ("AS", "AT"),
    "judge24": ("AU", "AV"),
    "judge25": ("AW", "AX"),
    "judge26": ("AY", "AZ"),
    "judge27": ("BA", "BB"),
    "judge28": ("BC", "BD"),
    "judge29": ("BE", "BF"),
    "judge30": ("BG", "BH"),
    "judge31": ("BI", "BJ"),
    "judge32": ("BK", "BL"),
    "judge33": ("BM", "BN"),
    "judge34": ("BO", "BP"),
    "judge35": ("BQ", "BR"),
    "judge36": ("BS", "BT"),
    "judge37": ("BU", "BV"),
    "judge38": ("BW", "BX"),
    "judge39": ("BY", "BZ"),
    "judge40": ("CA", "CB"),
    "judge41": ("CC", "CD"),
    "judge42": ("CE", "CF"),
    "judge43": ("CG", "CH"),
    "judge44": ("CI", "CJ"),
    "judge45": ("CK", "CL"),
    "judge46": ("CM", "CN"),
    "judge47": ("CO", "CP"),
    "judge48": ("CQ", "CR"),
    "judge49": ("CS", "CT"),
    "judge50": ("CU", "CV"),
    "judge51": ("CW", "CX"),
    "judge52": ("CY", "CZ"),
    "judge53": ("DA", "DB"),
    "judge54": ("DC", "DD"),
    "judge55": ("DE", "DF"),
    "judge56": ("DG", "DH"),
    "judge57": ("DI", "DJ"),
    "judge58": ("DK", "DL"),
    "judge59": ("DM", "DN"),
    "judge60": ("DO", "DP"),
    "judge61": ("DQ", "DR"),
    "judge62": ("DS", "DT"),
    "judge63": ("DU", "DV"),
    "judge64": ("DW", "DX"),
    "judge65": ("DY", "DZ"),
    "judge66": ("EA", "EB"),
    "judge67": ("EC", "ED"),
    "judge68": ("EE", "EF"),
    "judge69": ("EG", "EH"),
    "judge70": ("EI", "EJ"),
    "judge71": ("EK", "EL"),
    "judge72": ("EM", "EN"),
    "judge73": ("EO", "EP"),
    "judge74": ("EQ", "ER"),
    "judge75": ("ES", "ET"),
    "judge76": ("EU", "EV"),
    "judge77": ("EW", "EX"),
    "judge78": ("EY", "EZ"),
    "judge79": ("FA", "FB"),
    "judge80": ("FC", "FD"),
    "judge81": ("FE", "FF"),
    "judge82": ("FG", "FH"),
    "judge83": ("FI", "FJ"),
    "judge84": ("FK", "FL"),
    "judge85": ("FM", "FN"),
    "judge86": ("FO", "FP"),
    "judge87": ("FQ", "FR"),
    "judge88": ("FS", "FT"),
    "judge89": ("FU", "FV"),
    "judge90": ("FW", "FX"),
    "judge91": ("FY", "FZ"),
    "judge92": ("GA", "GB"),
    "judge93": ("GC", "GD"),
    "judge94": ("GE", "GF"),
    "judge95": ("GG", "GH"),
    "judge96": ("GI", "GJ"),
    "judge97": ("GK", "GL"),
    "judge98": ("GM", "GN"),
    "judge99": ("GO", "GP"),
    "judge100": ("GQ", "GR"),
    "judge101": ("GS", "GT"),
    "judge102": ("GU", "GV"),
    "judge103": ("GW", "GX"),
    "judge104": ("GY", "GZ"),
    "judge105": ("HA", "HB"),
    "judge106": ("HC", "HD"),
    "judge107": ("HE", "HF"),
    "judge108": ("HG", "HH"),
    "judge109": ("HI", "HJ"),
    "judge110": ("HK", "HL"),
    "judge111": ("HM", "HN"),
    "judge112": ("HO", "HP"),
    "judge113": ("HQ", "HR"),
    "judge114": ("HS", "HT"),
    "judge115": ("HU", "HV"),
    "judge116": ("HW", "HX"),
    "judge117": ("HY", "HZ"),
    "judge118": ("IA", "IB"),
    "judge119": ("IC", "ID"),
    "judge120": ("IE", "IF"),
    "judge121": ("IG", "IH"),
    "judge122": ("II", "IJ"),
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def _concepts() -> list[tuple[re.Pattern[str], str, str, str]]:
    """(pattern, facet, tags, text) for every concept line; ``{the}``/``{poss}`` match any owner."""
    from importlib import resources

    text = (
        resources.files("emotion_director.knowledge")
        .joinpath("data", "concept_settings.tsv")
        .read_text("utf-8")
    )
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 3:
            continue
        pattern = re.escape(fields[1]).replace(r"\{the\}", ".+").replace(r"\{poss\}", ".+")
        out.append((re.compile(f"^{pattern}$", re.I), fields[0], fields[2], fields[1]))
    return out


def _first_concept(
    concepts: list[tuple[re.Pattern[str], str, str, str]],
) -> Callable[[str], tuple[str, str, str]]:
    """``phrase -> (facet, tags, text)`` of the first concept line whose pattern matches it, as
    a loop over ``concepts`` finds it; ``("expression", "-", "")`` where none does. Only the
    lines that can match are tried: those whose text ends in the phrase's last word, and those
    ending in an owner (``{the}``/``{poss}``: any word), in the lines' order."""
    by_last: dict[str | None, list[int]] = collections.defaultdict(list)
    for i, (_, _, _, text) in enumerate(concepts):
        last = text.split()[-1].lower() if text.split() else None
        by_last[None if last is None or "{" in last else last].append(i)

    def first(phrase: str) -> tuple[str, str, str]:
        words = phrase.split()
        if words and not words[-1].isascii():  # re.I folds letters lower() does not (ſ, K)
            candidates: list[int] = list(range(len(concepts)))
        else:
            tried = by_last.get(words[-1].lower(), []) if words else []
            candidates = sorted([*tried, *by_last.get(None, [])])
        for i in candidates:
            rx, facet, tags, text = concepts[i]
            if rx.match(phrase):
                return facet, tags, text
        return ("expression", "-", "")

    return first


def phrases() -> list[dict[str, object]]:
    from emotion_director.evals.scene_checker import prompt_phrases

    concept_of = _first_concept(_concepts())
    rows: list[dict[str, object]] = []
    for stem, readers in JUDGES.items():
        if not (RUNS / f"{stem}_in.jsonl").exists():
            continue
        shown = [json.loads(line) for line in (RUNS / f"{stem}_in.jsonl").open()]
        key = json.loads((RUNS / f"{stem}_key.json").read_text())
        labels = [
            {d["id"]: d for d in map(json.loads, (RUNS / f"{stem}_{r}.jsonl").open())}
            for r in readers
        ]
        for item in shown:
            for phrase in prompt_phrases(item["scene"], item["prompt"]):
                said = []
                for label in labels:
                    named = any(
                        _norm(phrase) and (_norm(phrase) in _norm(q) or _norm(q) in _norm(phrase))
                        for q in label[item["id"]]["phrases"]
                        if _norm(q)
                    )
                    said.append(label[item["id"]]["label"] if named else "fits")
                verdict = (
                    "clash"
                    if said == ["clash", "clash"]
                    else "fine"
                    if said == ["fits", "fits"]
                    else "unsure"
                )
                facet, tags, concept = concept_of(phrase)
                rows.append(
                    {
                        "set": stem,
                        "version": key[str(item["id"])],
                        "scene": item["scene"],
                        "phrase": phrase,
                        "label": verdict,
                        "facet": facet,
                        "tags": tags,
                        "concept": concept,
                    }
                )
    return rows


def _presupposes(tags: str) -> str:
    from emotion_director.knowledge.setting import load_setting_file

    setting = load_setting_file()
    dimension = {t: d for d, values in setting.tags.items() for t in values}
    needs = [t for t in tags.split(",") if t not in ("-", "") and t not in setting.free]
    dims = {dimension[t] for t in needs}
    if not needs:
        return "nothing"
    if "place" in dims:
        return "a kind of place"
    if dims & {"time", "season", "weather"}:
        return "a time or weather"
    return "an enclosure or a building"


RISK_HEADER = """\
# How often blind readers called each concept of the graph a clash with its scene:
# TEXT<TAB>LABELLED<TAB>CLASHED. Read by knowledge/setting.py (concept_risk) to rank concepts that
# readers keep refusing below the others. Provenance: built by
# `python benchmarks/scene_fit_phrases.py --risk FILE` from the two-reader blind labels of the
# end-to-end runs in benchmarks/scene_fit/e2e_runs, judge files: {sets}.
# A concept counts once per scene: both versions of a scene in one judge file, and a scene read
# again in another judge file, are one observation, a clash if both readers named it in a clash
# in any of them. LABELLED counts the scenes where both readers agreed (clash or fine),
# CLASHED those where both named it in a clash.
"""


def risk_table(rows: list[dict[str, object]]) -> list[tuple[str, int, int]]:
    """(concept text, scenes labelled, scenes where it clashed), one observation per scene
    across all judge files; a clash in any reading of the scene wins."""
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        if row["concept"] and row["label"] != "unsure":
            key = (str(row["concept"]), str(row["scene"]))
            # a scene where the concept clashed in one version and fitted in another: a clash
            if seen.get(key) != "clash":
                seen[key] = str(row["label"])
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for (concept, _), label in seen.items():
        counts[concept][0] += 1
        counts[concept][1] += label == "clash"
    return sorted((c, n, k) for c, (n, k) in counts.items())


def write_risk(path: Path, rows: list[dict[str, object]]) -> None:
    sets = sorted({str(r["set"]) for r in rows}, key=lambda s: int(s[5:] or 1))
    body = "".join(f"{c}\t{n}\t{k}\n" for c, n, k in risk_table(rows))
    text = RISK_HEADER.format(sets=", ".join(sets)) + body
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), what="risk table")


PAIRS_ENCODER = "all-MiniLM-L6-v2 (emotion_director.scenefit.encoder, numpy, 64 tokens), float16"


def labelled_pairs(rows: list[dict[str, object]]) -> list[tuple[str, str, bool]]:
    """(scene, phrase as the ranking reads it, clash) for every phrase both readers agree on;
    a phrase matched to a concept is read as the concept's generic text."""
    from emotion_director.scenefit.reader_risk import generic_text

    return [
        (
            str(r["scene"]),
            generic_text(str(r["concept"])) if r["concept"] else str(r["phrase"]),
            r["label"] == "clash",
        )
        for r in rows
        if r["label"] != "unsure"
    ]


def pair_arrays(rows: list[dict[str, object]], encoder: object) -> dict[str, object]:
    """The arrays of ``reader_pairs.npz``: every labelled pair's texts as indices into one
    table of texts (which also holds every concept of the graph) and their MiniLM vectors."""
    import numpy as np

    from emotion_director.scenefit.reader_risk import generic_text

    pairs = labelled_pairs(rows)
    concepts = [generic_text(text) for _, _, _, text in _concepts()]
    texts = sorted({t for s, p, _ in pairs for t in (s, p)} | set(concepts))
    index = {t: i for i, t in enumerate(texts)}
    vecs = np.concatenate(
        [encoder.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)]  # type: ignore[attr-defined]
    )
    sets = sorted({str(r["set"]) for r in rows}, key=lambda s: int(s[5:] or 1))
    meta = {
        "source": "two-reader blind labels of benchmarks/scene_fit/e2e_runs, judge files: "
        + ", ".join(sets)
        + "; built by python benchmarks/scene_fit_phrases.py --pairs FILE",
        "encoder": PAIRS_ENCODER,
    }
    return {
        "texts": np.array(texts),
        "vecs": vecs.astype(np.float16),
        "pair_scene": np.array([index[s] for s, _, _ in pairs], dtype=np.int32),
        "pair_phrase": np.array([index[p] for _, p, _ in pairs], dtype=np.int32),
        "clash": np.array([c for _, _, c in pairs], dtype=bool),
        "meta": np.array(json.dumps(meta)),
    }


def write_pairs(path: Path, rows: list[dict[str, object]]) -> None:
    import numpy as np

    from emotion_director.scenefit.encoder import shared_encoder

    arrays = pair_arrays(rows, shared_encoder())

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]

    atomic_write(path, write, what="--pairs")


def knn_report(
    rows: list[dict[str, object]], first_test_set: int = 15, encoder: object = None
) -> None:
    """The reader-risk ranking trained on the judge files before ``first_test_set`` and read on
    the rest, beside the per-concept count table built from the same files (``encoder``: MiniLM
    unless given)."""
    from emotion_director.scenefit.encoder import shared_encoder
    from emotion_director.scenefit.reader_risk import ReaderPairs, ReaderRisk

    early = [r for r in rows if int(str(r["set"])[5:] or 1) < first_test_set]
    late = [r for r in rows if int(str(r["set"])[5:] or 1) >= first_test_set]
    encoder = encoder if encoder is not None else shared_encoder()
    risk = ReaderRisk(encoder, ReaderPairs(pair_arrays(early, encoder)))
    table = {c: (n, k) for c, n, k in risk_table(early)}
    base = sum(k for n, k in table.values()) / sum(n for n, k in table.values())

    def table_risk(concept: str) -> float:
        n, k = table.get(concept, (0, 0))
        p = (k + 4 * base) / (n + 4)
        return max(0.0, math.log(p / (1 - p)) - math.log(base / (1 - base)))

    by_scene: dict[tuple[str, str], list[dict[str, object]]] = collections.defaultdict(list)
    for r in late:
        if r["label"] != "unsure":
            by_scene[(str(r["set"]), str(r["scene"]))].append(r)
    scored: dict[str, list[tuple[float, bool, tuple[str, str]]]] = {
        "reader rate": [],  # the neighbours' clash rate
        "reader cost": [],  # what the ranking counts: its log-odds over the pooled rate, cut at 0
        "table": [],
    }
    for key, items in by_scene.items():
        texts = [str(r["concept"]) or str(r["phrase"]) for r in items]
        for r, rate, odds in zip(items, risk.rates(key[1], texts), risk.risks(key[1], texts)):
            clash = r["label"] == "clash"
            scored["reader rate"].append((rate, clash, key))
            scored["reader cost"].append((max(0.0, odds), clash, key))
            scored["table"].append((table_risk(str(r["concept"])), clash, key))
    n = len(scored["table"])
    clashes = sum(c for _, c, _ in scored["table"])
    print(f"trained on judge files before judge{first_test_set}, read on {n} later phrases")
    print(f"({clashes} clash) of {len(by_scene)} scenes")
    for name, items in scored.items():
        print(f"{name:12} AUC {_auc(items):.3f}   within-scene AUC {_auc(items, True):.3f}")


def trim_report(
    rows: list[dict[str, object]], first: int = 38, minimum: int = 4, threshold: float = 0.0
) -> dict[str, int]:
    """What giving up each prompt's riskiest cue buys (``agents.consensus.trim_risky``): for
    every set from judge file ``first`` on, the reader risk is trained on the labels of the
    sets before it and read on that set's prompts (one version's rewrite of one scene) of
    ``minimum`` labelled phrases or more; the phrase of the highest risk above ``threshold``,
    palettes aside, is given up. Counts the prompts holding a clash before and after, and the
    phrases given up, and how many of them were fine."""
    from emotion_director.scenefit.encoder import shared_encoder
    from emotion_director.scenefit.reader_risk import ReaderPairs, ReaderRisk

    def number(stem: str) -> int:
        return int(stem.removeprefix("judge") or 1)

    encoder = shared_encoder()
    counts = collections.Counter[str]()
    labelled = [r for r in rows if r["label"] != "unsure"]
    for k in sorted({number(str(r["set"])) for r in labelled}):
        if k < first:
            continue
        early = [r for r in labelled if number(str(r["set"])) < k]
        risk = ReaderRisk(encoder, ReaderPairs(pair_arrays(early, encoder)))
        prompts: dict[tuple[str, str], list[dict[str, object]]] = collections.defaultdict(list)
        for r in labelled:
            if number(str(r["set"])) == k:
                prompts[(str(r["version"]), str(r["scene"]))].append(r)
        for (_, scene), items in prompts.items():
            counts["prompts"] += 1
            clash = [r["label"] == "clash" for r in items]
            counts["clash before"] += any(clash)
            texts = [str(r["concept"] or r["phrase"]) for r in items]
            scores = risk.risks(scene, texts)
            open_ = [i for i, r in enumerate(items) if r["facet"] != "colour"]
            worst = max(open_, key=lambda i: scores[i], default=None)
            if len(items) < minimum or worst is None or scores[worst] <= threshold:
                counts["clash after"] += any(clash)
                continue
            counts["given up"] += 1
            counts["given up, fine"] += not clash[worst]
            counts["clash after"] += any(c for i, c in enumerate(clash) if i != worst)
    return dict(counts)


def _auc(items: list[tuple[float, bool, tuple[str, str]]], within: bool = False) -> float:
    """P(a clash scores above a fine phrase), ties half; ``within``: pairs of one scene only."""
    groups: dict[object, list[tuple[float, bool]]] = collections.defaultdict(list)
    for score, clash, key in items:
        groups[key if within else None].append((score, clash))
    wins = total = 0.0
    for group in groups.values():
        pos = sorted(s for s, c in group if c)
        neg = sorted(s for s, c in group if not c)
        for s in pos:
            below = bisect.bisect_left(neg, s)
            ties = bisect.bisect_right(neg, s) - below
            wins += below + 0.5 * ties
            total += len(neg)
    return wins / total if total else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write every labelled phrase to this JSONL file")
    parser.add_argument(
        "--risk",
        help="write the per-concept label counts (knowledge/data/concept_risk.tsv) to this file",
    )
    parser.add_argument(
        "--pairs", help="write the labels as MiniLM vectors (scenefit/data/reader_pairs.npz)"
    )
    parser.add_argument(
        "--knn", action="store_true", help="measure the reader-risk ranking on later sets"
    )
    parser.add_argument(
        "--trim",
        action="store_true",
        help="measure giving up each prompt's riskiest cue on later sets (consensus.trim_risky)",
    )
    args = parser.parse_args(argv)
    rows = phrases()
    if args.trim:
        for minimum in (4, 5):
            for threshold in (-99.0, 0.0, 0.25, 0.5):
                c = trim_report(rows, minimum=minimum, threshold=threshold)
                print(
                    f"trim from {minimum} cues above {threshold:+.2f}: {c.get('prompts', 0)} "
                    f"prompts, holding a clash {c.get('clash before', 0)} -> "
                    f"{c.get('clash after', 0)}; cues given up {c.get('given up', 0)}, "
                    f"{c.get('given up, fine', 0)} of them fine"
                )
    if args.pairs:
        write_pairs(Path(args.pairs), rows)
    if args.knn:
        knn_report(rows)
    if args.risk:
        write_risk(Path(args.risk), rows)
    if args.out:
        lines = "".join(json.dumps(r) + "\n" for r in rows)
        atomic_write(args.out, lambda tmp: tmp.write_text(lines, encoding="utf-8"), what="--out")
    counts: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    for row in rows:
        counts[(str(row["facet"]), _presupposes(str(row["tags"])))][str(row["label"])] += 1
    total = collections.Counter(str(r["label"]) for r in rows)
    print(
        f"{len(rows)} phrases: {total['clash']} clash, {total['fine']} fine, "
        f"{total['unsure']} unsure (both readers agree on clash / fine)"
    )
    print(f"{'facet':14} {'presupposes':28} {'n':>5} {'clash':>6} {'rate':>5}")
    for (facet, kind), c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(c.values())
        if n >= 10:
            print(f"{facet:14} {kind:28} {n:5d} {c['clash']:6d} {c['clash'] / n:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
