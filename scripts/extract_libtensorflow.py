"""Extract the TensorFlow C API from a tensorflow-cpu wheel into a libtensorflow-style folder.

The wheel ships the eager C API (TF_* / TFE_*) inside libtensorflow_cc.so.2, with
libtensorflow_framework.so.2 beside it and headers under tensorflow/include/. Only the
headers that the given binding sources reach through #include "..." are copied.

usage: extract_libtensorflow.py WHEEL BINDING_SOURCE_DIR OUT_DIR
"""
import os
import re
import shutil
import sys
import zipfile

LIBRARIES = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")
INCLUDE_PREFIX = "tensorflow/include/"
QUOTED_INCLUDE = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes_of(data: bytes) -> list[str]:
    return [m.decode() for m in QUOTED_INCLUDE.findall(data)]


def main(wheel: str, binding_dir: str, out_dir: str) -> None:
    lib_dir = os.path.join(out_dir, "lib")
    include_dir = os.path.join(out_dir, "include")
    os.makedirs(lib_dir, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in LIBRARIES:
            with archive.open(f"tensorflow/{name}") as src, open(os.path.join(lib_dir, name), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        headers = {
            info.filename[len(INCLUDE_PREFIX):]: info
            for info in archive.infolist()
            if info.filename.startswith(INCLUDE_PREFIX) and not info.filename.endswith("/")
        }
        pending = []
        for source in sorted(os.listdir(binding_dir)):
            with open(os.path.join(binding_dir, source), "rb") as f:
                pending += includes_of(f.read())
        copied = set()
        while pending:
            header = pending.pop()
            if header in copied or header not in headers:
                continue  # the binding's own headers and system headers are not in the wheel
            copied.add(header)
            data = archive.read(headers[header])
            target = os.path.join(include_dir, header)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
            pending += includes_of(data)
    if "tensorflow/c/c_api.h" not in copied:
        sys.exit(f"{wheel}: no tensorflow/c/c_api.h reachable from {binding_dir}")
    print(f"extracted {len(LIBRARIES)} libraries and {len(copied)} headers to {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
