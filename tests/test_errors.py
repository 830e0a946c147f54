"""The error tree: four kinds under one base, old names still importable, all settings errors
shown."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from emotion_director import errors
from emotion_director.cli import app
from emotion_director.settings import load_settings

# (old module, name) for every error class that used to be defined outside errors.py
MOVED = [
    ("emotion_director.agents.openai_chat", "ResponseTooLargeError"),
    ("emotion_director.agents.openai_chat", "ServerReplyShapeError"),
    ("emotion_director.diffusion.bank", "BankError"),
    ("emotion_director.diffusion.dependencies", "MissingExtraError"),
    ("emotion_director.diffusion.training.config", "ConfigError"),
    ("emotion_director.diffusion.training.data", "DatasetError"),
    ("emotion_director.diffusion.training.trainer", "TrainingOutputExistsError"),
    ("emotion_director.diffusion.generator", "OutputDirError"),
    ("emotion_director.evals.cache", "EvalCacheError"),
    ("emotion_director.evals.datasets", "EvalDatasetError"),
    ("emotion_director.evals.identity", "RunMismatchError"),
    ("emotion_director.evals.images", "ImageEvalError"),
    ("emotion_director.evals.rating", "RatingError"),
    ("emotion_director.evals.report", "EvalReportError"),
]


@pytest.mark.parametrize(("module", "name"), MOVED)
def test_error_classes_stay_importable_from_their_old_modules_as_the_same_class(module, name):
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_every_error_class_is_in_exactly_one_of_the_four_kinds():
    kinds = (errors.UserInputError, errors.DataFileError, errors.BackendError)
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type)
        and issubclass(c, errors.EmotionDirectorError)
        and c not in (errors.EmotionDirectorError, *kinds)
    ]
    assert len(classes) >= 20
    for cls in classes:
        assert sum(issubclass(cls, kind) for kind in kinds) == 1, cls
    assert issubclass(errors.ModelOutputError, errors.BackendError)  # model output: its own leaf


def test_input_and_data_file_errors_stay_value_errors_but_backend_errors_do_not():
    assert issubclass(errors.UnknownEmotionError, ValueError)
    assert issubclass(errors.PersonaFileError, ValueError)
    assert issubclass(errors.BankError, ValueError)
    assert issubclass(errors.AdapterError, ValueError)
    assert not issubclass(errors.BackendError, ValueError)
    assert not issubclass(errors.ModelOutputError, ValueError)
    assert not issubclass(errors.AdapterError, errors.BankError)  # a LoRA file is not a bank


def test_messages_are_redacted_in_every_kind():
    for cls in (errors.SettingsError, errors.BankError, errors.BackendError):
        assert "hunter2" not in str(cls("cannot reach http://user:hunter2@10.0.0.1/v1"))


def test_load_settings_names_every_invalid_setting_not_only_the_first():
    with pytest.raises(errors.SettingsError) as info:
        load_settings(backend="gpt", base_url="ftp://host", max_retries=-1)
    message = str(info.value)
    assert "unknown backend 'gpt'" in message
    assert "'base_url' (flag or EMOTION_DIRECTOR_BASE_URL)" in message
    assert "'max_retries' (flag or EMOTION_DIRECTOR_MAX_RETRIES)" in message
    assert "\n" not in message


def test_load_settings_with_one_invalid_setting_keeps_the_one_line_message():
    with pytest.raises(
        errors.SettingsError,
        match=r"^unknown backend 'gpt': use one of "
        r"embedded, openai, test\.$",
    ):
        load_settings(backend="gpt")


def test_cli_shows_every_invalid_setting_on_one_line_and_exits_2(monkeypatch):
    monkeypatch.setenv("EMOTION_DIRECTOR_MAX_RETRIES", "-1")
    result = CliRunner().invoke(app, ["rewrite", "a dog", "-e", "awe", "--backend", "gpt"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    text = " ".join(lines)
    assert "unknown backend 'gpt'" in text and "EMOTION_DIRECTOR_MAX_RETRIES" in text
    assert "Traceback" not in result.output
