"""The package's shape: the import graph, the one vocabulary, and an install that claims
no bare top-level name.

The import graph is read from the source (every ``import``, also inside functions):
    python -m pytest tests/test_layout.py -k graph -s    # prints it
"""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kernels", "sweep", "analysis")


def modules():
    """module name -> source path, for every module of the installed package's tree."""
    out = {"xorsweep": ROOT / "__init__.py", "xorsweep.__main__": ROOT / "__main__.py",
           "xorsweep.errors": ROOT / "errors.py"}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = ["xorsweep", *rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(name, path, known):
    """The project modules ``name`` imports (resolved to modules, not names in them)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for t in targets:
            if t.startswith("xorsweep"):
                while t not in known and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in known and t != name:
                    found.add(t)
    return found


def graph():
    mods = modules()
    return {m: imports_of(m, p, mods) for m, p in mods.items()}


def _package_of(m):
    parts = m.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PACKAGES else "root"


def _without_package_inits(g):
    """Importing ``a.b`` runs ``a/__init__``; an __init__ that only re-exports does not
    make a cycle of its own: leave the package nodes out of the cycle check."""
    inits = {m for m in g if m == "xorsweep" or m.rsplit(".", 1)[-1] in PACKAGES or m.endswith(".figures")}
    return {m: {t for t in ts if t not in inits} for m, ts in g.items() if m not in inits}


def test_import_graph_has_no_cycles_and_points_one_way():
    g = graph()
    print("\nimport graph (module -> project modules it imports):")
    for m in sorted(g):
        print(f"  {m} -> {', '.join(sorted(g[m])) or '-'}")
    for m, targets in g.items():
        for t in targets:
            if _package_of(m) == "kernels":
                assert _package_of(t) == "kernels", f"{m} imports {t}: kernels import nothing else of the project"
            if _package_of(m) == "sweep" and m != "xorsweep.sweep.cli":
                assert _package_of(t) != "analysis", f"{m} imports {t}: sweep reaches analysis only through the CLI"
            if _package_of(m) == "analysis":
                assert t != "xorsweep.sweep.cli", f"{m} imports the CLI"
    # no cycle among modules (depth-first search with colours)
    h = _without_package_inits(g)
    colour = {}

    def visit(m, path):
        colour[m] = "grey"
        for t in h.get(m, ()):
            if colour.get(t) == "grey":
                raise AssertionError("import cycle: " + " -> ".join(path + [m, t]))
            if t not in colour:
                visit(t, path + [m])
        colour[m] = "black"

    for m in h:
        if m not in colour:
            visit(m, [])


def _source_files():
    for pkg in PACKAGES + ("tests", "benchmarks"):
        for path in (ROOT / pkg).rglob("*.py"):
            yield path
    yield from (ROOT / "examples").glob("*.toml")


def test_the_vocabulary_is_spelled_once():
    """The published start, the rule names and the parameter layout appear in one place."""
    published = re.compile(r"0\.00420782|0\.12136818|0\.0539731")
    layout = re.compile(r"5\s*\*\s*H\s*\+\s*2|\{\s*\"W1\"\s*:\s*\(2,\s*H\)")
    rules = re.compile(r"\(\s*\"seed\"\s*,\s*\"gd\"\s*\)|\[\s*\"seed\"\s*,\s*\"gd\"\s*\]")
    where = {"published": [], "layout": [], "rules": []}
    for path in _source_files():
        text = path.read_text()
        if path.suffix == ".toml":  # a spec may list rules to sweep: data, not vocabulary
            text = rules.sub("", text)
        for key, rx in (("published", published), ("layout", layout), ("rules", rules)):
            if rx.search(text):
                where[key].append(str(path.relative_to(ROOT)))
    assert where["published"] == [], where["published"]  # the start lives in kernels/data/part7-cases.json
    # kernels/ index the flat layout inside jitted loops (constant offsets vectorise); those
    # loops are checked bit for bit against the reference, which takes the layout from vocab
    assert [f for f in where["layout"] if not f.startswith("kernels/")] == [], where["layout"]
    defs = [str(p.relative_to(ROOT)) for p in _source_files() if re.search(r"def (n_params|group_shapes)\(",
                                                                            p.read_text())]
    assert defs == ["kernels/vocab.py"], defs
    assert where["rules"] == [], where["rules"]


@pytest.mark.slow
def test_a_plain_install_claims_no_bare_name_and_runs_beside_a_users_own_packages(tmp_path):
    """`pip install .` (not editable) into a folder; then, from a working folder that has its
    own analysis/ and kernels/ packages, the CLI and `import xorsweep.sweep` work, and from
    a neutral folder `import kernels` (or sweep, analysis) fails."""
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", str(site), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".egg-info"))
                  and p.name != "bin") == ["xorsweep"]
    assert (site / "xorsweep" / "kernels" / "data" / "part7-cases.json").is_file()
    assert (site / "xorsweep" / "examples" / "blog-rounding.toml").is_file()
    work = tmp_path / "work"
    for pkg in ("analysis", "kernels", "sweep"):
        (work / pkg).mkdir(parents=True)
        (work / pkg / "__init__.py").write_text("raise ImportError('the user\\'s own package was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    # the editable install of the test environment must not be what answers
    probe = "import xorsweep, sys; assert xorsweep.__file__.startswith(sys.argv[1]), xorsweep.__file__"
    assert subprocess.run([sys.executable, "-c", probe, str(site)], cwd=work, env=env).returncode == 0
    r = subprocess.run([sys.executable, "-m", "xorsweep", "train", "--published", "--decimals", "7", "--json"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert '"predicted": [0, 1, 1, 0]' in r.stdout
    assert subprocess.run([sys.executable, "-c", "import xorsweep.sweep, xorsweep.analysis.stats"], cwd=work,
                          env=env).returncode == 0
    neutral = tmp_path / "neutral"
    neutral.mkdir()
    for bare in PACKAGES:
        r = subprocess.run([sys.executable, "-c", f"import {bare}"], cwd=neutral, env=env, capture_output=True)
        assert r.returncode != 0, f"import {bare} succeeded"
