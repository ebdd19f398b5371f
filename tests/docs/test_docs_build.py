"""The documentation site builds with warnings as errors (`mkdocs build --strict`)."""

import importlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
API_PAGES = (
    "layers",
    "models",
    "optimizers",
    "losses",
    "metrics",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
    "callbacks",
    "saving",
    "ops",
    "utils",
    "datasets",
    "distribution",
    "mixed_precision",
    "backend",
    "random",
    "tree",
    "config",
    "dtype_policies",
    "wrappers",
    "applications",
)


def _missing_docs_tools():
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return module
    return None


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    missing = _missing_docs_tools()
    if missing is not None:
        pytest.skip(
            f"{missing} is not installed; the docs build needs "
            '`pip install "mkdocs>=1.6" "mkdocstrings[python]>=0.26"` '
            "(the `docs` extra)."
        )
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, site


def test_strict_build_succeeds_without_warnings(built_site):
    result, _ = built_site
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr


def test_site_has_the_guides_and_one_api_page_per_package(built_site):
    _, site = built_site
    assert (site / "index.html").is_file()
    for page in (
        "getting-started",
        "differences",
        "callbacks",
        "saving",
        "distributed",
        "performance",
    ):
        assert (site / page / "index.html").is_file(), page
    for package in API_PAGES:
        assert (site / "api" / package / "index.html").is_file(), package


@pytest.mark.parametrize(
    "package",
    [
        "layers",
        "ops",
        "datasets",
        "backend",
        "applications",
        "visualization",
        # A function named like a module of its package (losses.hinge,
        # dtype_policies.dtype_policy) renders only if the module is private.
        "losses",
        "tree",
        "utils",
        "dtype_policies",
    ],
)
def test_api_pages_render_every_name_in_all(built_site, package):
    _, site = built_site
    module = importlib.import_module(f"lamina.{package}")
    html = (site / "api" / package / "index.html").read_text(encoding="utf-8")
    missing = [
        name
        for name in module.__all__
        if f'id="lamina.{package}.{name}"' not in html
        and not inspect.ismodule(getattr(module, name))  # e.g. ops.image: own block
    ]
    assert not missing, f"lamina.{package}: not rendered: {missing}"
