"""conda cannot run here, so this checks that environment.yml lists what pyproject.toml does."""

import re
from pathlib import Path

import ocrlib

try:
    import tomllib
except ImportError:            # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def requirement(spec):
    """'numpy>=1.24' -> ('numpy', '>=1.24'); markers after ';' are dropped."""
    name, version = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", spec.split(";")[0]).groups()
    return name.lower().replace("_", "-"), version.replace(" ", "")


def conda_packages():
    packages = []
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"\s+-\s+([^#\s][^#]*)", line)
        if match and not line.strip().startswith("- conda-forge"):
            packages.append(requirement(match.group(1)))
    return dict(packages)


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_packages = dict(requirement(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"]
                        if "python_version" not in s)
    conda = conda_packages()
    conda.pop("pip")
    assert conda.pop("python") == ">=3.10" == project["requires-python"]
    assert conda == pip_packages


def test_requirement_parsing():
    assert requirement("numpy>=1.24") == ("numpy", ">=1.24")
    assert requirement("tomli; python_version < '3.11'") == ("tomli", "")


def test_no_module_imports_one_that_imports_it_back():
    """Every ``ocrlib`` import, at the top of a module or inside a function, follows one direction."""
    import ast

    package = Path(ocrlib.__file__).parent
    imports = {}
    for path in package.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ocrlib"):
                names.add(node.module)
                names.update(f"ocrlib.{alias.name}" for alias in node.names if node.module == "ocrlib")
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith("ocrlib"))
        imports[f"ocrlib.{path.stem}"] = {name for name in names if name in
                                          {f"ocrlib.{p.stem}" for p in package.glob("*.py")} and name != "ocrlib"}
    imports.pop("ocrlib.__init__")

    def reaches(start, goal, seen=()):
        return any(name == goal or (name not in seen and reaches(name, goal, seen + (name,)))
                   for name in imports.get(start, ()))

    cycles = sorted(module for module in imports if reaches(module, module))
    assert cycles == [], f"modules in an import cycle: {cycles}"
    assert imports["ocrlib.network"] >= {"ocrlib.fastpath", "ocrlib.modelfile"}      # the test sees real imports
