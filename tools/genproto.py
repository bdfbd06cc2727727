"""Generates the Python code for protos/ into gen/python/ (or another root).

Run as `python tools/genproto.py [OUT_DIR]`. The output is committed; the
test suite regenerates into a temporary folder and fails if anything differs.
"""

import shutil
import sys
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
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if (out_dir / "crm").exists():
        shutil.rmtree(out_dir / "crm")
    out_dir.mkdir(parents=True, exist_ok=True)
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


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
