"""Generates the Python code for protos/ into gen/python/ (or another root).

Run as `python tools/genproto.py [OUT_DIR]`. The output is committed; the
test suite regenerates into a temporary folder and fails if anything differs.
"""

import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"
DEFAULT_OUT = REPO / "gen" / "python"
BIN = Path(sys.executable).parent


def googleapis_include() -> Path:
    """Folder holding google/api and google/type protos (googleapis-common-protos)."""
    import google.api

    return Path(next(iter(google.api.__path__))).parent.parent


def generate(out_dir: Path) -> None:
    """Generates into a scratch folder, then brings `out_dir` in line with it.

    Only files whose bytes differ are rewritten, so a service running from
    the tree (or a second generator) never sees the package half deleted.
    """
    with tempfile.TemporaryDirectory() as scratch:
        _run_protoc(Path(scratch))
        _sync(Path(scratch) / "crm", out_dir / "crm")


def _run_protoc(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{googleapis_include()}",
        f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # protoc writes no __init__.py; regular packages keep setuptools and
    # type checkers simple.
    for folder in (out_dir / "crm").rglob("*"):
        if folder.is_dir():
            (folder / "__init__.py").touch()
    (out_dir / "crm" / "__init__.py").touch()
    (out_dir / "crm" / "py.typed").touch()


def _sync(source: Path, target: Path) -> None:
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    for relative in sorted(wanted):
        new = (source / relative).read_bytes()
        destination = target / relative
        if not destination.exists() or destination.read_bytes() != new:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(new)
    if target.exists():
        for stale in target.rglob("*"):
            generated = stale.is_file() and "__pycache__" not in stale.parts
            if generated and stale.relative_to(target) not in wanted:
                stale.unlink()


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
