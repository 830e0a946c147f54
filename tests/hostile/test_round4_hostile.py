"""Hostile round 4 (2026-12-06): bad input that was refused for the wrong reason, or not at all.

Each case was found by a red-team pass over every entry point; each test fails on the code
before its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emotion_director import InvalidRequestError, Settings, build_graph
from emotion_director.errors import EmotionDirectorError, SettingsError
from emotion_director.settings import load_settings
from emotion_director.testing import TestChatModel

pytestmark = pytest.mark.timeout(120)


# --- settings --------------------------------------------------------------------------------


def test_a_line_break_in_the_base_url_is_a_bad_setting_not_a_program_bug():
    # before: "unexpected InvalidURL ... report it"
    with pytest.raises(SettingsError, match="base_url.*contains a control character"):
        load_settings(base_url="http://127.0.0.1:8000/v1\r\nX-Injected: 1")


def test_an_api_key_read_with_its_newline_is_used_without_it():
    # before: httpx refused the header, reported as "nothing answers there"
    assert Settings(api_key="sk-abc123\n").api_key.get_secret_value() == "sk-abc123"
    with pytest.raises(SettingsError, match="api_key.*control character") as info:
        load_settings(api_key="sk-abc\r\n123")
    assert "sk-abc" not in str(info.value)  # the key is never shown


# --- the graph's request ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph():
    return build_graph(Settings(), chat_model=TestChatModel())


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        # before: "emotion is empty" for a number
        ({"prompt": "a dog", "emotion": 3}, "emotion must be a name, got int"),
        # before: a raw TypeError ("'<=' not supported between 'float' and 'str'")
        ({"prompt": "a dog", "valence": "high", "arousal": 0.5}, "valence must be a number"),
        ({"prompt": "a dog", "valence": float("nan"), "arousal": 0.5}, "valence must be a number"),
        # before: an explicitly empty selection ran every persona without a word
        ({"prompt": "a dog", "emotion": "awe", "personas": []}, "personas is an empty list"),
    ],
)
def test_a_request_of_the_wrong_type_names_the_field(graph, request_, message):
    with pytest.raises(EmotionDirectorError, match=message):
        graph.invoke(request_)


def test_no_persona_selection_still_means_every_persona(graph):
    from emotion_director.personas import default_personas

    out = graph.invoke({"prompt": "a dog", "emotion": "awe"})
    assert len(out["readings"]) == len(default_personas())


# --- files the diffusion commands read --------------------------------------------------------


def test_an_empty_prompt_in_a_prompts_file_is_called_empty_not_missing(tmp_path):
    from emotion_director.diffusion.batch import read_prompt_file

    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "a dog", "emotion": "awe"}\n{"prompt": "  ", "emotion": "awe"}\n')
    with pytest.raises(InvalidRequestError, match=r'prompts.jsonl:2: "prompt" is empty'):
        read_prompt_file(path, None, 0)


def test_a_training_config_refuses_nan_and_an_output_dir_that_is_a_device(tmp_path):
    from emotion_director.diffusion.training.config import DPOConfig

    for train, message in (
        ("learning_rate: .nan", "finite number"),  # before: "greater than 0"
        ("output_dir: /dev/full", "/dev/full is a file or a device, not a folder"),
    ):
        path = tmp_path / "config.yaml"
        path.write_text(f"data:\n  preferences: prefs.jsonl\ntrain:\n  {train}\n")
        with pytest.raises(EmotionDirectorError, match=message):
            DPOConfig.from_yaml(path)


def test_a_training_image_that_is_a_fifo_is_named_as_such(tmp_path):
    from emotion_director.diffusion.training.data import _image_path

    os.mkfifo(tmp_path / "f.png")
    with pytest.raises(EmotionDirectorError, match="is not a regular file") as info:
        _image_path(Path(tmp_path), "f.png", "prefs.jsonl:1")
    assert "not found" not in str(info.value)  # before: "not found", for a file that is there


# --- model and cache paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        # before: llama.cpp's failure surfaced as "invalid output 3 times: try a larger model"
        ("/etc/hostname", "is not a GGUF model"),
        # before: "not found", for a device that is there
        ("/dev/zero", "is not a regular file"),
    ],
)
def test_a_model_path_that_is_no_gguf_file_is_named_before_loading(path, message):
    from emotion_director.agents.embedded import EmbeddedChatModel
    from emotion_director.errors import BackendError

    with pytest.raises(BackendError, match=message):
        EmbeddedChatModel(model_path=path).resolved_path


def test_an_emotion_with_a_control_character_names_it():
    from emotion_director.emotions import resolve_emotion

    # before: "unknown emotion 'awe'. Did you mean 'awe'?" (the escape hidden by the terminal)
    with pytest.raises(EmotionDirectorError, match="control character U\\+001B"):
        resolve_emotion("awe\x1b[2J")


def test_an_llm_cache_that_is_a_device_is_refused_and_left_alone():
    from emotion_director.evals.cache import _prepare_cache

    # before: "disk I/O error: delete it ..." (advice to delete /dev/null) and a journal in /dev
    with pytest.raises(EmotionDirectorError, match="is not a regular file") as info:
        _prepare_cache(Path(os.devnull))
    assert "delete" not in str(info.value)
    assert not Path(f"{os.devnull}-journal").exists()


def test_a_clip_path_that_is_not_there_is_named_as_a_path_not_a_hub_id(tmp_path):
    pytest.importorskip("transformers")
    from emotion_director.evals.probe import ClipFeatures

    # before: "Repo id must use alphanumeric chars ..."
    with pytest.raises(EmotionDirectorError, match=f"folder {tmp_path}/nowhere not found"):
        ClipFeatures.from_pretrained(str(tmp_path / "nowhere"))
