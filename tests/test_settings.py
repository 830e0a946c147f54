"""Settings from a .env file."""

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
