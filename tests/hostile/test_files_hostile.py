"""Files a user points a command at that are not what they seem: a FIFO, /dev/zero, a folder, a
huge line. Each is one red line with exit 2, at once: never a hang, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli_runner import run_cli
from tests.simulated import simulated_env

# a command run in this process (tests/cli_runner.py) may call the simulated server on loopback
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("loopback_model_server")]


def _cli(*args, cwd):
    # a reader that blocks on a FIFO would hang: the module's timeout turns that into a failure
    return run_cli(*args, env=simulated_env(), cwd=cwd)


def _one_red_line(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "folder"])
def test_train_dpo_config_that_is_no_regular_file(tmp_path, fifo, target):
    path = {"fifo": fifo, "/dev/zero": "/dev/zero", "folder": tmp_path}[target]
    proc = _cli("train", "dpo", "--config", path, cwd=tmp_path)
    _one_red_line(proc, "config file")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_eval_dataset_that_is_no_regular_file(tmp_path, fifo, target):
    path = fifo if target == "fifo" else "/dev/zero"
    proc = _cli(
        "eval",
        "run",
        "--dataset",
        path,
        "--out",
        tmp_path / "run",
        "--systems",
        "identity",
        cwd=tmp_path,
    )
    _one_red_line(proc, "not a regular file")


def test_a_one_megabyte_eval_line_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"id": "x", "prompt": "a dog " * 200_000, "emotion": "awe"}) + "\n")
    proc = _cli(
        "eval",
        "run",
        "--dataset",
        path,
        "--out",
        tmp_path / "run",
        "--systems",
        "identity",
        cwd=tmp_path,
    )
    _one_red_line(proc, "cases.jsonl:1", "character limit")
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_an_overlong_eval_prompt_names_the_field(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"id": "x", "prompt": "a dog " * 2_000, "emotion": "awe"}) + "\n")
    proc = _cli(
        "eval",
        "run",
        "--dataset",
        path,
        "--out",
        tmp_path / "run",
        "--systems",
        "identity",
        cwd=tmp_path,
    )
    _one_red_line(proc, "cases.jsonl:1", "prompt")


@pytest.mark.slow
def test_generate_prompts_file_that_is_a_fifo(tmp_path, fifo):
    proc = _cli(
        "generate",
        "--prompts",
        fifo,
        "-e",
        "awe",
        "--model",
        tmp_path / "none",
        "--bank",
        tmp_path / "none.safetensors",
        "--out",
        tmp_path / "img",
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_bank_random_never_replaces_a_device_and_needs_overwrite_for_a_file(tmp_path, fifo):
    pytest.importorskip("torch")
    import stat

    args = ("--tokens", "2", "--dim", "4", "--text-dim", "4")
    full = _cli("bank", "random", "--out", "/dev/full", *args, cwd=tmp_path)
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    pipe = _cli("bank", "random", "--out", fifo.with_suffix(".safetensors"), *args, cwd=tmp_path)
    assert pipe.returncode == 0  # a new path is fine
    os.mkfifo(tmp_path / "p.safetensors")
    _one_red_line(
        _cli("bank", "random", "--out", tmp_path / "p.safetensors", *args, cwd=tmp_path),
        "not a regular file",
    )
    bank = tmp_path / "bank.safetensors"
    assert _cli("bank", "random", "--out", bank, *args, cwd=tmp_path).returncode == 0
    before = bank.read_bytes()
    _one_red_line(
        _cli("bank", "random", "--out", bank, *args, "--seed", "1", cwd=tmp_path),
        "bank.safetensors already exists",
        "--overwrite",
    )
    assert bank.read_bytes() == before
    again = _cli("bank", "random", "--out", bank, *args, "--seed", "1", "--overwrite", cwd=tmp_path)
    assert again.returncode == 0 and bank.read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- the one JSONL appender of the run files (results, vectors, judgments, ratings, images) ---


def test_append_jsonl_writes_whole_lines_from_many_threads(tmp_path):
    import json
    import threading

    from emotion_director.files import append_jsonl

    path = tmp_path / "results.jsonl"
    payload = "x" * 5000  # longer than a pipe buffer: one write per record still

    def writer(n):
        for i in range(50):
            append_jsonl(path, [{"writer": n, "i": i, "pad": payload}], what="results file")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 200 and {(r["writer"], r["i"]) for r in rows} == {
        (n, i) for n in range(4) for i in range(50)
    }


def test_append_jsonl_refuses_a_link_or_a_pipe_and_names_it(tmp_path):
    import os

    from emotion_director.errors import DataFileError
    from emotion_director.files import append_jsonl

    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "judgments.jsonl"
    link.symlink_to(target)
    with pytest.raises(DataFileError, match="judgments.jsonl: cannot append to the judgments"):
        append_jsonl(link, [{"a": 1}], what="judgments file")
    assert target.read_text() == "keep me\n"
    fifo = tmp_path / "ratings.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(DataFileError, match="ratings.jsonl"):  # at once, not a hang
        append_jsonl(fifo, [{"a": 1}], what="ratings file")


# ----- the one JSONL reader (files.read_jsonl) ----------------------------------------------
def test_read_jsonl_names_the_line_of_a_users_file_and_skips_a_torn_run_line(tmp_path):
    from emotion_director.errors import DataFileError
    from emotion_director.files import read_jsonl

    path = tmp_path / "pairs.jsonl"
    path.write_text('{"a": 1}\n\n{"b": \n')
    with pytest.raises(DataFileError, match=r"pairs.jsonl:3: invalid JSON .*fix or delete"):
        list(read_jsonl(path, what="pairs file"))
    # a run file: the last line was cut by a crash mid-write, the rest stands
    assert list(read_jsonl(path, what="results file", torn=True)) == [(1, {"a": 1})]
    # valid JSON that is no object was not cut by a crash: refused in both kinds of file
    path.write_text('{"a": 1}\n[1, 2]\n')
    for torn in (False, True):
        with pytest.raises(DataFileError, match=r"pairs.jsonl:2: not a judgment .*got list"):
            list(read_jsonl(path, what="judgments file", item="judgment", torn=torn))
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(DataFileError, match="deep.jsonl:1"):
        list(read_jsonl(deep, what="pairs file", max_line=1 << 20))
    assert list(read_jsonl(tmp_path / "none.jsonl", what="results file", torn=True)) == []


@pytest.mark.parametrize("name", ["ratings.jsonl", "judgments.jsonl", "results.jsonl"])
def test_a_run_file_that_is_a_pipe_is_refused_not_waited_on(tmp_path, name):
    from emotion_director.errors import DataFileError
    from emotion_director.evals.judge import read_judgments
    from emotion_director.evals.rating import read_ratings
    from emotion_director.evals.tables import read_results

    os.mkfifo(tmp_path / name)
    reader = {
        "ratings.jsonl": read_ratings,
        "judgments.jsonl": read_judgments,
        "results.jsonl": read_results,
    }[name]
    with pytest.raises(DataFileError, match=name):  # at once: the timeout turns a hang red
        reader(tmp_path)


def test_image_records_that_are_a_pipe_are_refused(tmp_path):
    from emotion_director.errors import ImageEvalError
    from emotion_director.evals.images import read_image_records

    (tmp_path / "images").mkdir()
    os.mkfifo(tmp_path / "images" / "records-rank0.jsonl")
    with pytest.raises(ImageEvalError, match="records-rank0.jsonl: not a regular file"):
        read_image_records(tmp_path)


def test_a_number_too_long_for_python_is_a_bad_line_not_a_crash(tmp_path):
    from emotion_director.errors import DataFileError
    from emotion_director.evals.runner import last_recorded_error
    from emotion_director.files import read_jsonl

    path = tmp_path / "results.jsonl"
    path.write_text('{"error": "first"}\n{"x": ' + "1" * 5000 + "}\n")
    assert [n for n, _ in read_jsonl(path, what="results file", torn=True)] == [1]
    assert last_recorded_error(path) == "first"
    with pytest.raises(DataFileError, match="results.jsonl:2: invalid JSON"):
        list(read_jsonl(path, what="results file"))


def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    # a crash cut the last choice mid-write; the next vote must not be glued onto it
    from emotion_director.files import append_jsonl, read_jsonl

    path = tmp_path / "ratings.jsonl"
    path.write_text('{"rater": "ann", "pair_id": "p1", "winner": "a"}\n{"rater": "ann", "pa')
    append_jsonl(path, [{"rater": "ann", "pair_id": "p2", "winner": "b"}], what="ratings file")
    records = [r for _, r in read_jsonl(path, what="ratings file", torn=True)]
    assert [r["pair_id"] for r in records] == ["p1", "p2"]


def test_files_a_run_regenerates_are_never_written_through_a_planted_symlink(tmp_path):
    # hostile round 3 audit: run.json, the judge's identity, the image summary and the bank
    # cache were written with write_text, which follows a symlink planted in the run folder
    import asyncio

    from emotion_director.errors import DataFileError
    from emotion_director.evals.datasets import load_eval_dataset
    from emotion_director.evals.runner import run_eval
    from emotion_director.testing import TestChatModel

    victim = tmp_path / "elsewhere.json"  # a dangling link: the run reads no run.json there
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").symlink_to(victim)

    class Metrics:
        def score_rewrite(self, prompt, rewrite, emotion):
            return {"minilm_prob": 0.5, "subject_similarity": 1.0}

    with pytest.raises(DataFileError, match="symlink"):
        asyncio.run(
            run_eval(
                ["identity"],
                load_eval_dataset("builtin:neutral")[:1],
                run,
                chat_model=TestChatModel(),
                metrics=Metrics(),
            )
        )
    assert not victim.exists()


def test_a_training_image_swapped_for_a_pipe_or_a_huge_image_is_refused_not_read(
    tmp_path, monkeypatch
):
    pytest.importorskip("torch")
    import random

    from PIL import Image

    from emotion_director.diffusion.training import data
    from emotion_director.errors import DatasetError

    pipe = tmp_path / "img.png"
    os.mkfifo(pipe)  # checked as an image when the records loaded, then replaced by a pipe
    with pytest.raises(DatasetError, match="img.png"):
        data.load_image_tensor(pipe, 8, center_crop=True, flip=False, rng=random.Random(0))
    big = tmp_path / "big.png"
    Image.new("RGB", (20, 20)).save(big)
    monkeypatch.setattr(data, "MAX_IMAGE_PIXELS", 50)
    with pytest.raises(DatasetError, match="more than 50"):
        data.load_image_tensor(big, 8, center_crop=True, flip=False, rng=random.Random(0))
    monkeypatch.setattr(data, "MAX_IMAGE_PIXELS", 10_000)
    tensor = data.load_image_tensor(big, 8, center_crop=True, flip=False, rng=random.Random(0))
    assert tuple(tensor.shape) == (3, 8, 8)


def test_a_training_image_over_the_byte_limit_is_refused_when_the_records_load(
    tmp_path, monkeypatch
):
    # refused before training starts, not by load_image_tensor in the middle of a run
    pytest.importorskip("torch")
    from PIL import Image

    from emotion_director import files
    from emotion_director.diffusion.training import data
    from emotion_director.errors import DatasetError

    image = tmp_path / "noise.png"
    Image.effect_noise((64, 64), 60).convert("RGB").save(image)
    monkeypatch.setattr(files, "MAX_IMAGE_BYTES", image.stat().st_size - 1)
    with pytest.raises(DatasetError, match="byte limit"):
        data.check_image(image, "line 1")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{oops", "is not valid JSON (Expecting property name"),
        ('["a list"]', "must be a JSON object"),
        ("[" * 5000 + "]" * 5000, "is not valid JSON (nested too deep)"),
        ('{"n": ' + "9" * 5000 + "}", "is not valid JSON (Exceeds the limit"),
        ("", "is not valid JSON (Expecting value"),
    ],
)
def test_a_run_json_file_that_is_not_an_object_is_one_error_with_the_fix(tmp_path, text, needle):
    from emotion_director.errors import RunMismatchError
    from emotion_director.evals.identity import read_run_meta

    (tmp_path / "run.json").write_text(text, encoding="utf-8")
    with pytest.raises(RunMismatchError) as info:
        read_run_meta(tmp_path)
    message = str(info.value)
    assert needle in message and message.endswith("delete the run folder or pass a new --out.")
    assert str(tmp_path / "run.json") in message


def test_a_run_json_that_is_a_pipe_or_not_utf8_is_refused_not_read_with_the_fix(tmp_path):
    from emotion_director.errors import RunMismatchError
    from emotion_director.evals.identity import read_run_meta

    os.mkfifo(tmp_path / "run.json")
    with pytest.raises(RunMismatchError, match="not a regular file.*pass a new --out"):
        read_run_meta(tmp_path)
    assert read_run_meta(tmp_path / "none") is None
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(RunMismatchError, match="not UTF-8.*delete the run folder"):
        read_run_meta(other)


def test_a_judge_json_that_is_a_list_is_refused(tmp_path):
    from emotion_director.errors import RunMismatchError
    from emotion_director.evals.judge import _check_judge

    (tmp_path / "judge.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(RunMismatchError, match="must be a JSON object: delete it and"):
        _check_judge(tmp_path, {"backend": "test", "model": "m", "rubric": "r"})


def test_a_small_file_under_a_huge_cap_is_read_within_a_memory_limit(tmp_path):
    # before: read(max_bytes + 1) asked for a 4 GiB buffer to read a 3 KB results.jsonl, a
    # MemoryError traceback in a process with an address-space limit (ulimit -v)
    import resource

    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a"}\n' * 300)
    code = (
        "from emotion_director.files import read_regular_file, RUN_FILE_BYTES; "
        f"print(len(read_regular_file({str(path)!r}, what='run file', max_bytes=RUN_FILE_BYTES)))"
    )
    limit = 2 << 30
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
    )
    assert proc.returncode == 0 and proc.stdout.strip() == str(path.stat().st_size), proc.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("bank", "tiny-pipeline"),
        ("bank", "tiny-image-encoder"),
        ("train", "toy-data"),
        ("eval", "tiny-clip"),
        ("eval", "toy-emoset"),
    ],
)
def test_a_folder_writer_never_replaces_what_a_folder_holds_without_overwrite(tmp_path, command):
    # before: `bank tiny-pipeline FOLDER` replaced a user's own unet weights and model_index.json
    kept = tmp_path / "precious"
    (kept / "unet").mkdir(parents=True)
    weights = kept / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"MINE")
    (kept / "model_index.json").write_text('{"mine": 1}')
    _one_red_line(_cli(*command, kept, cwd=tmp_path), "precious already holds files", "--overwrite")
    assert weights.read_bytes() == b"MINE"
    assert (kept / "model_index.json").read_text() == '{"mine": 1}'
    _one_red_line(_cli(*command, kept / "model_index.json", cwd=tmp_path), "is a file")


def test_a_bank_that_is_a_device_a_folder_or_a_fifo_is_named_as_such(tmp_path):
    # red-team G03/G04/G06: each said "bank file X not found: build one with bank init"
    pytest.importorskip("safetensors")
    from emotion_director.diffusion.bank import BankError, VisualPromptBank

    os.mkfifo(tmp_path / "pipe.safetensors")
    for path, said in [
        ("/dev/zero", "is not a regular file"),
        (tmp_path, "is a folder, not a file"),
        (tmp_path / "pipe.safetensors", "is not a regular file"),
        (tmp_path / "none.safetensors", "not found: build one with"),
    ]:
        with pytest.raises(BankError, match=said):
            VisualPromptBank.load(path)


@pytest.mark.parametrize("size", ["100000", "100"])
def test_eval_images_refuses_a_size_before_any_weights_load(tmp_path, size):
    # as `generate --size` (red-team G22, found again by the review under `eval images`)
    args = ("eval", "images", tmp_path, "--model", "none", "--clip", "none", "--size", size)
    _one_red_line(_cli(*args, cwd=tmp_path), f"--size {size}: ", "multiple of 8 up to 4096")
