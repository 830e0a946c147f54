from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emotion_director.errors import PersonaFileError
from emotion_director.personas import (
    Persona,
    default_personas,
    load_persona_file,
    load_personas,
    loader,
    parse_persona,
)


def _valid(**overrides) -> dict:
    data = default_personas()[0].model_dump(mode="json")
    data.update(overrides)
    return data


def _write(folder: Path, name: str, data) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_default_set_has_six_or_more_clearly_different_people():
    personas = default_personas()
    assert len(personas) >= 6
    assert len({p.name for p in personas}) == len(personas)
    assert len({p.bio.culture for p in personas}) == len(personas)
    assert len({p.bio.occupation for p in personas}) == len(personas)
    ages = [p.bio.age for p in personas]
    assert min(ages) < 12 and max(ages) > 65
    tastes = [frozenset(p.taste_words()) for p in personas]
    assert len(set(tastes)) == len(tastes)


def test_user_directory_extends_and_overrides_by_name(tmp_path):
    _write(tmp_path, "poet.yaml", _valid(name="poet", temperament="cheerful and loud", weight=3))
    _write(tmp_path, "baker.yml", _valid(name="baker", display_name="Ana"))
    personas = {p.name: p for p in load_personas(tmp_path)}
    assert personas["poet"].temperament == "cheerful and loud"
    assert personas["poet"].weight == 3
    assert "baker" in personas
    assert len(personas) == len(default_personas()) + 1


def test_without_defaults_only_user_files_load(tmp_path):
    _write(tmp_path, "a.yaml", _valid(name="a"))
    assert [p.name for p in load_personas(tmp_path, include_defaults=False)] == ["a"]


def test_names_select_and_order_personas():
    assert [p.name for p in load_personas(names=["poet", "child"])] == ["poet", "child"]
    with pytest.raises(PersonaFileError, match="unknown persona.*nobody"):
        load_personas(names=["nobody"])


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d.pop("temperament"), "field 'temperament': Field required; add it"),
        (lambda d: d.update(weight=-1), "field 'weight'"),
        (lambda d: d.update(temperature="hot"), "field 'temperature'"),
        # NaN is named as such, not "less than or equal to 10" (hostile round 4)
        (lambda d: d.update(weight=float("nan")), "field 'weight': Input should be a finite"),
        (lambda d: d.update(temperature=float("inf")), "field 'temperature': Input should be a"),
        # terminal escapes and hidden text, as a prompt may not hold them (hostile round 4:
        # `personas list` printed the escapes raw, the override went into the persona prompt)
        (
            lambda d: d.update(display_name="\x1b[31mRED\x1b]0;title\x07"),
            "field 'display_name': contains control character U+001B: remove it.",
        ),
        (
            lambda d: d["bio"].update(occupation="baker\u202e"),
            "field 'bio.occupation': contains the bidirectional control U+202E",
        ),
        (lambda d: d["taste"].update(motifs=["gulls\x00"]), "contains control character U+0000"),
        (lambda d: d.update(name="Has Spaces"), "field 'name'"),
        (
            lambda d: d.update(colour="red"),
            "field 'colour': Extra inputs are not permitted; remove it",
        ),
        # a key that looks like no field name is not echoed: a persona file linked to
        # /etc/shadow printed every "root:*:20228:0:99999:7::" line (red-team Y_symdir)
        (
            lambda d: d.update({"root:*:20228:0:99999:7::": None}),
            "a key that is no persona field (not shown",
        ),
        (lambda d: d["bio"].update({"x" * 60: 1}), "no persona field under 'bio' (not shown"),
        (lambda d: d["bio"].update(age=500), "field 'bio.age'"),
        (lambda d: d.update(sensitivity={"joyy": 1.0}), "unknown emotion 'joyy'"),
        (lambda d: d.update(sensitivity={"awe": 5}), "use a number in [0, 2]"),
        (lambda d: d["taste"].update(focus=["smell"]), "unknown facet"),
        (lambda d: d["taste"].update(palette=[]), "field 'taste.palette'"),
    ],
)
def test_bad_file_names_file_field_and_fix(tmp_path, mutate, expect):
    data = _valid()
    mutate(data)
    path = _write(tmp_path, "bad.yaml", data)
    with pytest.raises(PersonaFileError) as info:
        load_persona_file(path)
    assert str(path) in str(info.value)
    assert expect in str(info.value)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("name: [unclosed", "invalid YAML at line"),
        ("- a\n- b\n", "expected a mapping"),
        ("", "expected a mapping"),
    ],
)
def test_malformed_yaml_is_a_one_line_error(tmp_path, text, expect):
    path = _write(tmp_path, "broken.yaml", text)
    with pytest.raises(PersonaFileError, match=expect):
        load_persona_file(path)


def test_missing_directory_non_utf8_and_duplicates(tmp_path):
    with pytest.raises(PersonaFileError, match="directory not found"):
        load_personas(tmp_path / "nope")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PersonaFileError, match="not UTF-8"):
        load_persona_file(tmp_path / "bin.yaml")
    dup = tmp_path / "dup"
    dup.mkdir()
    _write(dup, "one.yaml", _valid(name="same"))
    _write(dup, "two.yaml", _valid(name="same"))
    with pytest.raises(PersonaFileError, match="also used by"):
        load_personas(dup)


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "bio",
                "temperament",
                "taste",
                "sensitivity",
                "weight",
                "temperature",
                "display_name",
                "extra",
            ]
        ),
        yaml_values,
        max_size=9,
    )
)
def test_fuzzed_persona_yaml_gives_a_persona_or_a_named_error(data):
    text = yaml.safe_dump(data)
    try:
        assert isinstance(parse_persona(text, "fuzz.yaml"), Persona)
    except PersonaFileError as exc:
        assert str(exc).startswith("fuzz.yaml: ")


@settings(max_examples=150)
@given(st.text(max_size=200))
def test_fuzzed_raw_text_never_raises_anything_but_a_persona_error(text):
    try:
        parse_persona(text, "raw.yaml")
    except PersonaFileError as exc:
        assert "raw.yaml" in str(exc)


@settings(max_examples=60)
@given(st.sampled_from(["name", "bio", "temperament", "taste"]), yaml_values)
def test_fuzzing_one_field_of_a_valid_persona_names_that_field(field, value):
    data = _valid()
    data[field] = value
    try:
        parse_persona(yaml.safe_dump(data), "one.yaml")
    except PersonaFileError as exc:
        assert f"field '{field}" in str(exc) or "unknown" in str(exc)


def test_check_persona_paths_gives_each_file_a_verdict_in_order(tmp_path):
    from emotion_director.personas.loader import check_persona_paths

    default = default_personas()[0]
    own = _write(tmp_path, "a_own.yaml", _valid(name="baker"))
    override = _write(tmp_path, "b_override.yaml", _valid())
    twin = _write(tmp_path, "c_twin.yaml", _valid(name="baker"))
    broken = _write(tmp_path, "d_broken.yaml", "name: [")
    checks = check_persona_paths([tmp_path])
    assert [c.path for c in checks] == [own, override, twin, broken]
    assert (checks[0].name, checks[0].problems, checks[0].overrides_default) == ("baker", [], False)
    assert (checks[1].name, checks[1].overrides_default) == (default.name, True)
    assert checks[2].name is None and "also used by" in checks[2].problems[0]
    assert "invalid YAML" in checks[3].problems[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PersonaFileError, match="no persona files"):
        check_persona_paths([tmp_path / "empty"])


def test_shipped_personas_are_parsed_once_and_each_call_gets_its_own_copies():
    from emotion_director.personas import loader

    first, second = loader.default_personas(), loader.default_personas()
    assert [p.name for p in first] == [p.name for p in second]
    assert loader._shipped_personas.cache_info().currsize == 1
    # equal, but no object is shared: a caller that edits a nested list edits only its own
    assert first[0] == second[0] and first[0] is not second[0]
    first[0].taste.palette.append("a colour of the caller's own")
    assert "a colour of the caller's own" not in loader.default_personas()[0].taste.palette


def test_a_key_written_twice_is_named_with_both_lines(tmp_path):
    # red-team Y_dupkey / Y_nanweight: PyYAML kept the last of two keys, so "weight: .nan"
    # above "weight: 1.0" validated, and "name: dk" ... "name: dk2" loaded as dk2
    text = yaml.safe_dump(_valid()) + "weight: 2.5\n"
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    line = text.splitlines().index("weight: 2.5") + 1
    first = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("weight:"))
    with pytest.raises(
        PersonaFileError, match=f"key 'weight' appears twice \\(lines {first} and {line}\\)"
    ):
        load_persona_file(path)
    merged = "base: &b {age: 30}\nother:\n  <<: *b\n  age: 31\n"  # a merge, then overridden
    assert yaml.load(merged, Loader=loader._DepthLimitedLoader)["other"]["age"] == 31  # noqa: S506
    # a mapping that overrides its own merge, merged elsewhere in turn (the review: its merged
    # key and its own were taken for one key written twice)
    nested = "outer:\n  base: &b\n    <<: {x: 0}\n    x: 1\nchild:\n  <<: *b\n"
    assert yaml.load(nested, Loader=loader._DepthLimitedLoader) == yaml.safe_load(nested)  # noqa: S506


def test_a_persona_file_given_as_a_folder_or_a_folder_of_unread_files_says_so(tmp_path):
    # red-team Y_personasfile: "--personas poet.yaml" said "persona directory not found";
    # Y_jsonext / Y_upper: a folder of X.YAML or x.json said only "no persona files found"
    from emotion_director.personas import load_personas
    from emotion_director.personas.loader import check_persona_paths

    path = _write(tmp_path, "poet.yaml", _valid())
    with pytest.raises(PersonaFileError, match="is a file, not a folder; pass the folder it is in"):
        load_personas([path])
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "POET.YAML").write_text(path.read_text())
    (upper / "x.json").write_text("{}")
    hint = r"\(POET.YAML, x.json are not read: only \*.yaml and \*.yml, in lower case\)"
    with pytest.raises(PersonaFileError, match="contains no .yaml persona files " + hint):
        load_personas([upper])
    with pytest.raises(PersonaFileError, match="no persona files found in the given paths " + hint):
        check_persona_paths([upper])
