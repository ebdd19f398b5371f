"""Every ```python block in README.md and docs/*.md runs as a reader would paste it.

The blocks of one page run in order, in one namespace, in a fresh interpreter whose
working directory is an empty temporary folder. A block that cannot run here (it needs
torchrun, a GPU, the internet, or a file the reader is assumed to have) or that is a
deliberate fragment carries `<!-- doc-test: skip (reason) -->` on the line just before
its fence; the test counts those and asserts that every other block ran. A page whose
snippets use objects the reader already has (`model`, `x`, `y`) defines them in a
hidden comment that runs, in page order, like a block:

    <!-- doc-test: setup
    model = ...
    -->
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = ["README.md"] + sorted(
    str(path.relative_to(REPO)) for path in (REPO / "docs").glob("*.md")
)
FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
SKIP_MARKER = re.compile(r"^<!--\s*doc-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
SETUP_MARKER = re.compile(r"^<!--\s*doc-test:\s*setup\s*$")
PAGE_TIMEOUT_S = 120
RESULT_TAG = "@@doc-test@@"
# Packages of lamina's optional extras that snippets import; without one, a page
# is skipped (`pip install -e ".[test]"` has them all) rather than failed.
OPTIONAL_PACKAGES = {
    "matplotlib",
    "yaml",
    "tensorboard",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "safetensors",
    "pandas",
    "PIL",
}

# Runs in the child interpreter: exec each block in one shared namespace, report each
# one that ran, stop at the first that raises. A block is compiled with blank lines in
# front so tracebacks point at the page's own line numbers.
RUNNER = """
import json, sys, traceback
blocks = json.loads(sys.argv[1])
namespace = {"__name__": "__main__"}
for block in blocks:
    code = compile("\\n" * block["line"] + block["source"], block["page"], "exec")
    try:
        exec(code, namespace)
    except BaseException as error:
        missing = isinstance(error, ModuleNotFoundError) and (error.name or "")
        missing = missing.split(".")[0] if missing else None
        print(TAG + json.dumps({"failed": block["line"], "missing": missing,
                                "error": traceback.format_exc()}), flush=True)
        sys.exit(1)
    print(TAG + json.dumps({"ran": block["line"]}), flush=True)
"""


def extract_blocks(page):
    """Returns `(runnable, skipped)` for one page.

    `runnable` is a list of dicts `{"page", "line", "source"}` where `line` is the
    1-based line of the opening fence (or of a setup comment's first line);
    `skipped` is a list of `(line, reason)`.
    """
    lines = (REPO / page).read_text(encoding="utf-8").splitlines()
    runnable, skipped = [], []
    index = 0
    while index < len(lines):
        if SETUP_MARKER.match(lines[index]):
            end = index + 1
            while end < len(lines) and lines[end].strip() != "-->":
                end += 1
            source = "\n".join(lines[index + 1 : end]) + "\n"
            runnable.append(
                {"page": page, "line": index + 1, "source": source, "setup": True}
            )
            index = end + 1
            continue
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        ticks, language = match.groups()
        end = index + 1
        while end < len(lines) and lines[end].strip() != ticks:
            end += 1
        if language == "python":
            previous = lines[index - 1] if index > 0 else ""
            skip = SKIP_MARKER.match(previous)
            if skip:
                skipped.append((index + 1, skip.group("reason").strip()))
            else:
                source = "\n".join(lines[index + 1 : end]) + "\n"
                runnable.append({"page": page, "line": index + 1, "source": source})
        index = end + 1
    return runnable, skipped


def run_page(page, workdir):
    runnable, _ = extract_blocks(page)
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"  # history.plot(), plot_model: no window
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    command = [
        sys.executable,
        "-c",
        RUNNER.replace("TAG", repr(RESULT_TAG)),
        json.dumps(runnable),
    ]
    try:
        result = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=PAGE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{page}: its python blocks did not finish in {PAGE_TIMEOUT_S} s; "
            "shrink the slow snippet or mark it `<!-- doc-test: skip (slow) -->`",
            pytrace=False,
        )
    ran, failure = [], None
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            record = json.loads(line[len(RESULT_TAG) :])
            if "ran" in record:
                ran.append(record["ran"])
            else:
                failure = record
    return runnable, ran, failure, result


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, tmp_path):
    runnable, skipped = extract_blocks(page)
    if not runnable:
        pytest.skip(f"{page}: no runnable python blocks ({len(skipped)} skipped)")
    runnable, ran, failure, result = run_page(page, tmp_path)
    if failure is not None and failure["missing"] in OPTIONAL_PACKAGES:
        pytest.skip(f"{page}: needs the optional package {failure['missing']}")
    if failure is not None:
        setup_lines = [block["line"] for block in runnable if block.get("setup")]
        what = "doc-test setup" if failure["failed"] in setup_lines else "python block"
        pytest.fail(
            f"{page}: the {what} at line {failure['failed']} raised:\n"
            f"{failure['error']}",
            pytrace=False,
        )
    expected = [block["line"] for block in runnable]
    assert result.returncode == 0 and ran == expected, (
        f"{page}: blocks at lines {expected} should all run; ran {ran} "
        f"(exit {result.returncode})\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    setups = sum(block.get("setup", False) for block in runnable)
    print(
        f"{page}: {len(ran) - setups} blocks ran (+{setups} setup), "
        f"{len(skipped)} skipped: {skipped}"
    )


def test_most_blocks_run_and_every_guide_is_checked():
    assert {"README.md", "docs/getting-started.md", "docs/saving.md"} <= set(PAGES)
    runnable = skipped = 0
    for page in PAGES:
        page_runnable, page_skipped = extract_blocks(page)
        runnable += sum(not block.get("setup") for block in page_runnable)
        skipped += len(page_skipped)
    # Skip markers are for what cannot run here, not a way to silence the test.
    assert runnable >= 3 * skipped, (runnable, skipped)


def test_extractor_finds_blocks_and_markers(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n"
        "```python\nx = 1\n```\n"
        "```sh\nmake demo\n```\n"
        "<!-- doc-test: skip (needs torchrun) -->\n"
        "```python\nimport missing_module\n```\n"
        "````python\ny = x + 1\n```\nstill code\n````\n"
        "<!-- doc-test: setup\nz = 3\n-->\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    runnable, skipped = extract_blocks("page.md")
    assert [(block["line"], block["source"]) for block in runnable] == [
        (2, "x = 1\n"),
        (12, "y = x + 1\n```\nstill code\n"),
        (17, "z = 3\n"),
    ]
    assert [block.get("setup", False) for block in runnable] == [False, False, True]
    assert skipped == [(9, "needs torchrun")]


def test_a_failing_block_is_reported_with_its_page_line(tmp_path, monkeypatch):
    (tmp_path / "page.md").write_text(
        "```python\nvalue = 2\n```\n\n```python\nassert value == 3, 'wrong value'\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    runnable, ran, failure, _ = run_page("page.md", tmp_path)
    assert ran == [1]
    assert failure["failed"] == 5
    assert 'File "page.md", line 6' in failure["error"]
    assert "AssertionError: wrong value" in failure["error"]


def test_every_marker_is_well_formed():
    stray = []
    for page in PAGES:
        lines = (REPO / page).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if "doc-test:" not in line:
                continue
            following = lines[number] if number < len(lines) else ""
            if SETUP_MARKER.match(line):
                if "-->" not in [rest.strip() for rest in lines[number:]]:
                    stray.append(f"{page}:{number}: setup comment never closed")
            elif not SKIP_MARKER.match(line) or following.strip() != "```python":
                stray.append(f"{page}:{number}: {line.strip()}")
    assert not stray, (
        "doc-test markers are `<!-- doc-test: skip (reason) -->` on the line just "
        "before a ```python fence, or `<!-- doc-test: setup` ... `-->`:\n"
        + "\n".join(stray)
    )
