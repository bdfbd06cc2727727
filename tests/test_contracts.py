"""Contract checks for protos/: buf lint, fresh generated code, no breaking change.

buf comes from npm (`@bufbuild/buf`, pinned in package.json) and is expected
at node_modules/.bin/buf; `make setup` installs it. A missing buf fails these
tests rather than skipping them: a silently skipped contract check is how
a breaking change reaches an internal client.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tarfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# buf's exit code when it ran fine and reported lint or breaking findings;
# any other non-zero code means buf itself failed (bad input, bad ref, ...).
BUF_FINDINGS = 100
BUF_TIMEOUT = 120.0
GIT_TIMEOUT = 30.0
GENPROTO_TIMEOUT = 300.0
# What a buf workspace needs: the config and both module folders.
WORKSPACE_ENTRIES = ("buf.yaml", "protos", "third_party")
# A message field line, `[repeated|optional] type name = number`; enum values
# (`NAME = number`) have no type so do not match.
FIELD_LINE = re.compile(
    r"^(\s*(?:repeated\s+|optional\s+)?[\w.]+\s+\w+\s*=\s*)(\d+)(\s*[;\[])", re.MULTILINE
)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def buf_path() -> Path:
    buf = repo_root() / "node_modules" / ".bin" / "buf"
    assert buf.is_file(), f"buf is not installed at {buf}: run `make setup` (it runs `npm ci`)"
    return buf


def run(args: Sequence[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def buf(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([buf_path(), *args], cwd=cwd, timeout=BUF_TIMEOUT)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(result.args)}\n(exit {result.returncode})\n{result.stdout}{result.stderr}"


def git(repo: Path, *args: str) -> str:
    """Runs git and returns its stripped stdout; fails the test if git fails."""
    result = run(["git", *args], cwd=repo, timeout=GIT_TIMEOUT)
    assert result.returncode == 0, output(result)
    return result.stdout.strip()


def git_ok(repo: Path, *args: str) -> bool:
    return run(["git", *args], cwd=repo, timeout=GIT_TIMEOUT).returncode == 0


# --- choosing what `buf breaking` compares against --------------------------


def main_ref(repo: Path) -> str:
    """The `main` branch, its remote-tracking copy (CI checkouts), else HEAD."""
    for ref in ("refs/heads/main", "refs/remotes/origin/main"):
        if git_ok(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"):
            return ref
    return "HEAD"


def newest_protos_commit(repo: Path, rev: str) -> str | None:
    """The newest commit reachable from rev that changed protos/."""
    return git(repo, "log", "-n1", "--format=%H", rev, "--", "protos") or None


def protos_differ(repo: Path, sha: str) -> bool:
    """True if the working tree's protos/ (untracked files included) differ from sha's."""
    if not git_ok(repo, "diff", "--quiet", sha, "--", "protos"):
        return True
    return bool(git(repo, "ls-files", "--others", "--exclude-standard", "--", "protos"))


def previous_protos_commit(repo: Path, sha: str) -> str | None:
    """The newest commit before sha that changed protos/, None if sha introduced them."""
    if not git_ok(repo, "rev-parse", "--verify", "--quiet", f"{sha}^"):
        assert git(repo, "rev-parse", "--is-shallow-repository") != "true", (
            f"{sha} is the edge of a shallow clone, so the earlier protos/ are unknown: "
            "fetch the full history (`git fetch --unshallow`; in CI, checkout fetch-depth: 0)"
        )
        return None
    return newest_protos_commit(repo, f"{sha}^")


@dataclass(frozen=True)
class BreakingBase:
    sha: str | None  # None: there is no earlier protos/ to compare against
    why: str


def breaking_base(repo: Path) -> BreakingBase:
    """What the current protos/ must stay compatible with.

    Uncommitted protos/ changes are checked against the last commit on main
    that changed protos/. With a clean tree (a CI fresh clone, where HEAD is
    often that very commit) the last landed change itself is checked, against
    the version of protos/ before it.
    """
    ref = main_ref(repo)
    last = newest_protos_commit(repo, ref)
    if last is None:
        return BreakingBase(None, f"no commit on {ref} has protos/ yet")
    if protos_differ(repo, last):
        return BreakingBase(last, f"working tree vs {last[:12]}, the last {ref} commit on protos/")
    previous = previous_protos_commit(repo, last)
    if previous is None:
        return BreakingBase(None, f"protos/ were introduced by {last[:12]}; nothing is earlier")
    return BreakingBase(previous, f"{last[:12]} (last {ref} commit on protos/) vs {previous[:12]}")


# --- running `buf breaking` against a commit ---------------------------------


def module_paths(buf_yaml: str) -> list[str]:
    return re.findall(r"^\s*-\s*path:\s*(\S+)\s*$", buf_yaml, re.MULTILINE)


def same_workspace_layout(repo: Path, sha: str) -> bool:
    if not git_ok(repo, "cat-file", "-e", f"{sha}:buf.yaml"):
        return False
    then = git(repo, "show", f"{sha}:buf.yaml")
    return module_paths(then) == module_paths((repo / "buf.yaml").read_text())


def export_commit(repo: Path, sha: str, dest: Path) -> Path:
    """sha's protos/ (and third_party/, when it has one) under today's buf.yaml."""
    present = [p for p in ("protos", "third_party") if git_ok(repo, "cat-file", "-e", f"{sha}:{p}")]
    assert "protos" in present, f"{sha} has no protos/"
    archive = subprocess.run(
        ["git", "archive", "--format=tar", sha, "--", *present],
        cwd=repo,
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=True,
    )
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    shutil.copy2(repo / "buf.yaml", dest / "buf.yaml")
    if "third_party" not in present:
        shutil.copytree(repo / "third_party", dest / "third_party")
    return dest


def buf_breaking_against_commit(
    repo: Path, sha: str, scratch: Path
) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of repo's working tree against commit sha.

    buf reads the commit straight from .git when it has the same workspace
    layout; otherwise, or if buf cannot use .git (a worktree's .git file, say),
    the commit's protos are exported and checked under the current buf.yaml.
    """
    if same_workspace_layout(repo, sha):
        result = buf("breaking", "--against", f".git#ref={sha}", cwd=repo)
        if result.returncode in (0, BUF_FINDINGS):
            return result
    return buf("breaking", "--against", export_commit(repo, sha, scratch / sha), cwd=repo)


def copy_workspace(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for entry in WORKSPACE_ENTRIES:
        if (src / entry).is_dir():
            shutil.copytree(src / entry, dest / entry)
        else:
            shutil.copy2(src / entry, dest / entry)
    return dest


def renumber_first_field(protos: Path) -> str:
    """Gives the first message field found a new number; returns what changed."""
    for path in sorted(protos.rglob("*.proto")):
        text = path.read_text()
        match = FIELD_LINE.search(text)
        if match:
            path.write_text(FIELD_LINE.sub(r"\g<1>536870911\g<3>", text, count=1))
            return f"{path.relative_to(protos)}: {match.group(0).strip()} -> 536870911"
    raise AssertionError(f"no message field found under {protos}")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


# --- tests -------------------------------------------------------------------


def test_buf_lint() -> None:
    result = buf("lint", cwd=repo_root())
    assert result.returncode == 0, f"buf lint failed:\n{output(result)}"


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    repo = repo_root()
    fresh_dir = tmp_path / "python"
    result = run(
        [sys.executable, repo / "tools" / "genproto.py", fresh_dir],
        cwd=repo,
        timeout=GENPROTO_TIMEOUT,
    )
    assert result.returncode == 0, f"tools/genproto.py failed:\n{output(result)}"
    fresh, committed = tree_bytes(fresh_dir), tree_bytes(repo / "gen" / "python")
    problems = [f"missing from gen/python: {name}" for name in sorted(fresh.keys() - committed)]
    problems += [f"not generated any more: {name}" for name in sorted(committed.keys() - fresh)]
    problems += [
        f"differs: {name}"
        for name in sorted(fresh.keys() & committed.keys())
        if fresh[name] != committed[name]
    ]
    assert not problems, "gen/python is stale; run `make protos`:\n" + "\n".join(problems)


def test_no_breaking_change_since_last_protos_commit(tmp_path: Path) -> None:
    """protos/ stay wire- and source-compatible with the last version on main.

    The base is the newest commit on main (HEAD without a main ref) that
    changed protos/: uncommitted changes are checked against it; a clean tree
    checks that commit against the version before it, so the last change
    that landed is checked too, also on a fresh CI clone.

    When protos/ have only ever had one version there is nothing to break.
    That is asserted, not skipped: the history holds at most one commit
    touching protos/, and the working tree matches it.
    """
    repo = repo_root()
    base = breaking_base(repo)
    if base.sha is None:
        ref = main_ref(repo)
        commits = int(git(repo, "rev-list", "--count", ref, "--", "protos"))
        last = newest_protos_commit(repo, ref)
        assert commits <= 1, base.why
        assert last is None or not protos_differ(repo, last), base.why
        warnings.warn(f"buf breaking had nothing to compare against: {base.why}", stacklevel=1)
        return
    result = buf_breaking_against_commit(repo, base.sha, tmp_path)
    assert result.returncode == 0, (
        f"breaking change in protos/ ({base.why}); add a new field, message or "
        f"version instead of changing a released one:\n{output(result)}"
    )


def test_breaking_check_catches_a_renumbered_field(tmp_path: Path) -> None:
    """The guard itself works: a renumbered field is reported as breaking."""
    original = copy_workspace(repo_root(), tmp_path / "original")
    changed = copy_workspace(repo_root(), tmp_path / "changed")
    edit = renumber_first_field(changed / "protos")
    result = buf("breaking", changed, "--against", original, cwd=tmp_path)
    assert result.returncode == BUF_FINDINGS, f"{edit} was not reported:\n{output(result)}"


def test_breaking_base_covers_landed_and_uncommitted_changes(tmp_path: Path) -> None:
    """In a scratch repo: a clean tree checks the last landed change, a dirty one its edits."""
    repo = copy_workspace(repo_root(), tmp_path / "repo")
    identity = ["-c", "user.name=contract test", "-c", "user.email=test@invalid"]
    commit = [*identity, "-c", "commit.gpgsign=false", "commit", "-q", "-m"]
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, *commit, "protos v1")
    first = git(repo, "rev-parse", "HEAD")
    assert breaking_base(repo).sha is None

    renumber_first_field(repo / "protos")
    git(repo, "add", "-A")
    git(repo, *commit, "break a field")
    second = git(repo, "rev-parse", "HEAD")
    (repo / "unrelated.txt").write_text("not a proto change\n")
    git(repo, "add", "-A")
    git(repo, *commit, "unrelated")
    base = breaking_base(repo)
    assert base.sha == first, base.why
    landed = buf_breaking_against_commit(repo, first, tmp_path / "exports")
    assert landed.returncode == BUF_FINDINGS, output(landed)
    assert f".git#ref={first}" in landed.args, "buf could not read the commit from .git"
    exported = export_commit(repo, first, tmp_path / "export")
    via_export = buf("breaking", "--against", exported, cwd=repo)
    assert via_export.returncode == BUF_FINDINGS, output(via_export)

    (repo / "protos" / "crm" / "scratch.proto").write_text('syntax = "proto3";\n')
    assert breaking_base(repo).sha == second
