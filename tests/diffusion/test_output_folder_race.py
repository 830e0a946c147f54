"""Processes of a data-parallel run check the shared output folder at the same moment."""

import threading

import pytest

from emotion_director.diffusion.generator import writable_dir


def test_concurrent_write_checks_on_one_folder_never_fail(tmp_path):
    # seen in CI: rank 1 of `accelerate launch ... generate --prompts` exited 2 because rank 0
    # removed the shared probe file between rank 1's write and its unlink
    errors = []
    start = threading.Barrier(8)

    def check():
        start.wait()
        for _ in range(200):
            try:
                writable_dir(tmp_path / "out")
            except Exception as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert list((tmp_path / "out").iterdir()) == []  # no probe left behind


def test_a_pipelines_tokenizer_never_mixes_two_threads_padding(sd15_dir):
    # seen in CI: 4 concurrent generations gave another image than sequential ones, because a
    # shared transformers tokenizer sets padding on its backend before encoding, and diffusers'
    # encode_prompt tokenizes with padding="max_length" and padding="longest" in turn
    from transformers import AutoTokenizer

    from emotion_director.diffusion.bank import VisualPromptBank
    from emotion_director.diffusion.pipeline import MCDiffusionPipeline

    pipe = MCDiffusionPipeline.from_pretrained(sd15_dir, bank=VisualPromptBank.random(4, 16, 32))
    tokenizer = pipe._call_pipeline().tokenizer
    assert isinstance(
        pipe.pipeline.tokenizer, type(AutoTokenizer.from_pretrained(sd15_dir / "tokenizer"))
    )  # the base pipeline keeps its own tokenizer
    mixed = []
    start = threading.Barrier(4)

    def work(padding):
        start.wait()
        for _ in range(300):
            ids = tokenizer(
                ["a dog"],
                padding=padding,
                max_length=tokenizer.model_max_length,
                truncation=padding == "max_length",
            ).input_ids[0]
            if (len(ids) == tokenizer.model_max_length) != (padding == "max_length"):
                mixed.append((padding, len(ids)))

    threads = [threading.Thread(target=work, args=(p,)) for p in ["max_length", "longest"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not mixed, mixed[:5]


def test_a_name_whose_sidecar_is_a_planted_symlink_is_not_taken(tmp_path):
    # hostile round 3 audit: the sidecar was written with write_text, which follows a symlink
    # planted (even dangling) at its name; such a name is now passed over
    from emotion_director.diffusion.generator import _free_path

    victim = tmp_path / "victim.txt"
    (tmp_path / "out-0.json").symlink_to(victim)  # dangling: exists() says False
    path = _free_path(tmp_path / "out-0.png")
    assert path.name == "out-0-v2.png"
    assert not victim.exists()


def test_a_sidecar_is_never_written_through_a_symlink(tmp_path):
    from emotion_director.errors import OutputDirError
    from emotion_director.files import atomic_write

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out-0.json").symlink_to(victim)
    with pytest.raises(OutputDirError, match="symlink"):
        atomic_write(
            tmp_path / "out-0.json", lambda t: t.write_text("{}"), what="s", error=OutputDirError
        )
    assert victim.read_text() == "keep me"
