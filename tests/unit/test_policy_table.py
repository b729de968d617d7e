"""scripts/policy_table.py keeps the README's profile table in step with the profile files."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from intake.policy import PROFILES_DIR

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "policy_table.py"
README = """# Hotline Gateway

Some text before.

<!-- policy-table:start -->
<!-- policy-table:end -->

Some text after.
"""


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("policy_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_lists_the_five_profiles_with_their_limits(script: ModuleType) -> None:
    text = script.table()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "profile" not in line]
    # every profile file, in the order of their names (the list of cities is data)
    assert [row.split(" | ")[0].strip("| ") for row in rows] == [
        "guangxi",
        "guangzhou",
        "huizhou",
        "quxian",
        "shaoyang",
    ]
    huizhou = next(r for r in rows if r.startswith("| huizhou"))
    assert "| 15 WD | 15 WD |" in huizhou  # huizhou §13.1 complaints and reports
    assert "yellow −1 WD, red +1 WD" in huizhou  # huizhou §26
    guangxi = next(r for r in rows if r.startswith("| guangxi"))
    assert "silence = satisfied" in guangxi  # guangxi §27.2


def test_write_then_check_on_a_readme_copy(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert script.main(["--check", str(readme)]) == 1  # empty block: out of date
    assert script.main(["--write", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Hotline Gateway\n\nSome text before.")
    assert text.endswith("<!-- policy-table:end -->\n\nSome text after.\n")
    assert "| quxian |" in text
    assert script.main(["--check", str(readme)]) == 0
    # hand-edit the table: the check notices
    readme.write_text(text.replace("| 15 WD |", "| 14 WD |", 1), encoding="utf-8")
    assert script.main(["--check", str(readme)]) == 1
    assert "out of date" in capsys.readouterr().out


def test_changing_a_profile_file_makes_the_readme_stale(script: ModuleType, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILES_DIR, profiles)
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert script.main(["--write", str(readme), "--profiles-dir", str(profiles)]) == 0
    quxian = profiles / "quxian.toml"
    quxian.write_text(
        quxian.read_text(encoding="utf-8").replace(
            'handling = { wd = 5, source = "quxian §11.2" }', 'handling = { wd = 6, source = "quxian §11.2" }'
        ),
        encoding="utf-8",
    )
    assert script.main(["--check", str(readme), "--profiles-dir", str(profiles)]) == 1


def test_cli_exit_codes(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    run = [sys.executable, str(SCRIPT)]
    assert subprocess.run([*run, "--check", str(readme)], capture_output=True, check=False).returncode == 1
    assert subprocess.run([*run, "--write", str(readme)], capture_output=True, check=False).returncode == 0
    done = subprocess.run([*run, "--check", str(readme)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert printed.strip() in readme.read_text(encoding="utf-8")


def test_missing_markers_are_reported(script: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="markers"):
        script.main(["--check", str(readme)])
