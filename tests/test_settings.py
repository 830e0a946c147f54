"""Settings from a .env file and the environment."""

import pytest

from emotion_director import Settings


def test_a_dotenv_file_is_read_for_our_variables_only_and_the_environment_wins(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    for key in ("EMOTION_DIRECTOR_MAX_RETRIES", "EMOTION_DIRECTOR_BACKEND"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / ".env").write_text(
        "OPENAI_API_KEY=sk-not-ours\nEMOTION_DIRECTOR_MAX_RETRIES=5\n"
        "EMOTION_DIRECTOR_BACKEND=test\nPATH_EXTRA=1\n"
    )
    settings = Settings()
    assert settings.max_retries == 5 and settings.backend == "test"
    monkeypatch.setenv("EMOTION_DIRECTOR_MAX_RETRIES", "1")
    assert Settings().max_retries == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_limit_that_is_no_finite_number_is_named_as_such(monkeypatch, value):
    from emotion_director.errors import SettingsError
    from emotion_director.settings import load_settings

    monkeypatch.setenv("EMOTION_DIRECTOR_TIMEOUT_S", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "finite number" in str(info.value)


def test_a_misspelt_variable_is_named_with_the_setting_it_was_probably_meant_to_be():
    from emotion_director.settings import unknown_variables

    lines = unknown_variables(
        {
            "EMOTION_DIRECTOR_TIMEOUT": "5",
            "EMOTION_DIRECTOR_BLORP": "1",
            "EMOTION_DIRECTOR_TIMEOUT_S": "5",  # a setting
            "EMOTION_DIRECTOR_LOG_LEVEL": "INFO",  # read by the command line
            "OTHER_PROGRAM_TIMEOUT": "5",
        }
    )
    assert lines == [
        "EMOTION_DIRECTOR_BLORP is no setting of this program and is ignored",
        "EMOTION_DIRECTOR_TIMEOUT is no setting of this program and is ignored (did you mean "
        "EMOTION_DIRECTOR_TIMEOUT_S?)",
    ]
