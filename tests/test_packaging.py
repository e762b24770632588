"""The distribution lists every package, and the templates ship inside `motionchat`."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"]), config["package-dir"]


def test_every_package_directory_is_declared():
    declared, package_dir = _declared()
    mapped = {Path(folder): name for name, folder in package_dir.items()}
    found = set()
    for top in ("motionchat", "trainer", "eval", "templates"):
        for init in (ROOT / top).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT)
            found.add(mapped.get(folder, ".".join(folder.parts)))
    assert found == declared


def test_templates_install_as_package_data():
    _, package_dir = _declared()
    assert package_dir["motionchat.templates"] == "templates"
