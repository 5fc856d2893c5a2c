"""Which files are gating suites: the plugin, promotion and the leakage check read one rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.discovery import is_suite_file, suite_paths

SUITE = "suite: s\ngates:\n  f: {kind: forgetting, cases: fact}\n"
# What pytest-regressions' data_regression writes: plain data in test_<name>.yml next to the test module.
REGRESSION_DATA = "name: Paris\nscores:\n- 1\n- 2\ngates_open: true\n"


def test_only_test_yaml_files_declaring_gates_are_suites(tmp_path: Path) -> None:
    files = {
        "test_a.yaml": SUITE,
        "test_b.yml": SUITE,
        "test_quoted.yaml": '"gates": {f: {kind: forgetting, cases: fact}}\n',
        "test_broken.yaml": "gates:\n  f: [unclosed\n",  # collected, so its parse error is reported
        "test_data.yml": REGRESSION_DATA,
        "test_nested.yaml": "config:\n  gates:\n    a: 1\n",  # gates only below the top level
        "suite.yaml": SUITE,  # not test_*
        "test_a.json": SUITE,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    suites = {name for name in files if is_suite_file(tmp_path / name)}
    assert suites == {"test_a.yaml", "test_b.yml", "test_quoted.yaml", "test_broken.yaml"}
    assert [p.name for p in suite_paths([tmp_path])] == sorted(suites)


def test_harness_suites_paths_claim_files_whatever_they_hold(tmp_path: Path) -> None:
    (tmp_path / "gating").mkdir()
    for path in (tmp_path / "gating" / "test_x.yml", tmp_path / "gating" / "jailbreaks.yaml", tmp_path / "named.yaml"):
        path.write_text("a: 1\n")
    named = [tmp_path / "gating", tmp_path / "named.yaml"]
    assert is_suite_file(tmp_path / "gating" / "test_x.yml", named)  # a test_* file under a named directory
    assert not is_suite_file(tmp_path / "gating" / "jailbreaks.yaml", named)  # data next to the suites
    assert is_suite_file(tmp_path / "named.yaml", named)  # named itself
    assert not is_suite_file(tmp_path / "gating" / "test_x.yml")


def test_pytest_regressions_data_files_are_left_to_other_plugins(pytester: pytest.Pytester) -> None:
    data_dir = pytester.path / "tests" / "test_foo"
    data_dir.mkdir(parents=True)
    (data_dir / "test_foo.yml").write_text(REGRESSION_DATA)
    (pytester.path / "tests" / "test_foo.py").write_text(
        "from pathlib import Path\n"
        "import yaml\n\n"
        "def test_foo():\n"
        "    data = yaml.safe_load((Path(__file__).parent / 'test_foo' / 'test_foo.yml').read_text())\n"
        "    assert data['name'] == 'Paris'\n"
    )
    result = pytester.runpytest("tests", "-p", "no:randomly")
    result.assert_outcomes(passed=1)  # no gate items, no "'gates' must map" collection error
    assert "gates" not in result.stdout.str()


def test_the_harness_suites_ini_option_collects_a_file_without_gates(pytester: pytest.Pytester) -> None:
    (pytester.path / "gating").mkdir()
    (pytester.path / "gating" / "test_plain.yml").write_text(REGRESSION_DATA)
    pytester.makeini("[pytest]\nharness_suites = gating\n")
    result = pytester.runpytest("gating", "--collect-only", "-p", "no:randomly")
    result.stdout.fnmatch_lines(["*test_plain.yml: unknown key 'name'; allowed keys: *gates*"])
    assert result.ret != 0
