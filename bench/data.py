"""Benchmark: registering data with Plimsoll against `dvc add`, with a plain `cp` of the same bytes
as the machine's floor, in one run.

Workloads (issue 13): (a) one 2 GiB file of random bytes; (b) 20,000 files of 4 KiB in 100
folders. Each is timed three ways, each in a fresh process:

- `cp -r` of the tree into an empty folder on the same disk (the floor: reading and writing the
  bytes once);
- Plimsoll: `plimsoll data add NAME TREE` on a fresh embedded store with an empty hash cache
  (cold: every file read, hashed with BLAKE3 and stored), then the same command again (unchanged:
  the cache says nothing changed, so nothing is read);
- DVC: `dvc add TREE` in a fresh `dvc init --no-scm` repository (cold: hashed with MD5 and copied
  into its cache), then again (unchanged).

The page cache is warm for every tool alike (the tree was just written); "cold" means no hash
cache, not a cold disk. DVC runs from its own venv (bench/requirements-dvc.txt); without it the
DVC column is skipped with a note.

    python3.11 -m venv .venv-bench-dvc && .venv-bench-dvc/bin/pip install -r bench/requirements-dvc.txt
    .venv/bin/python bench/data.py [--big-gib 2] [--small-files 20000] [--keep]

Targets: (a) >= 5x DVC cold; (b) <= 1.5x the `cp` cold; unchanged >= 10x DVC for both. Never a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLIMSOLL = Path(sys.executable).with_name("plimsoll")
DVC = REPO / ".venv-bench-dvc" / "bin" / "dvc"
CHUNK = 64 << 20


def make_big(root: Path, gib: float) -> None:
    root.mkdir(parents=True)
    remaining = int(gib * (1 << 30))
    with (root / "big.bin").open("wb") as out:
        while remaining:
            size = min(CHUNK, remaining)
            out.write(os.urandom(size))
            remaining -= size


def make_small(root: Path, files: int, size: int = 4096) -> None:
    for index in range(files):
        folder = root / f"part-{index % 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index:06d}.bin").write_bytes(os.urandom(size))


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def sync() -> None:
    subprocess.run(["sync"], check=False)  # the last tool's writes are not the next one's cost


def run_cp(tree: Path, work: Path) -> float:
    target = work / "cp-copy"
    sync()
    seconds = timed(["cp", "-r", str(tree), str(target)], work)
    shutil.rmtree(target)
    return seconds


def run_plimsoll(tree: Path, work: Path) -> tuple[float, float]:
    home = work / "plimsoll-home"
    env = {**os.environ, "PLIMSOLL_HOME": str(home), "XDG_CACHE_HOME": str(work / "plimsoll-cache")}
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS"):
        env.pop(name, None)
    command = [str(PLIMSOLL), "data", "add", "bench", str(tree), "--json"]
    sync()
    cold = timed(command, work, env)
    unchanged = timed(command, work, env)
    shutil.rmtree(home)
    shutil.rmtree(work / "plimsoll-cache")
    return cold, unchanged


def run_dvc(tree: Path, work: Path) -> tuple[float, float] | None:
    if not DVC.exists():
        return None
    repo = work / "dvc-repo"
    repo.mkdir()
    timed([str(DVC), "init", "--no-scm", "-q"], repo)
    timed([str(DVC), "config", "core.analytics", "false"], repo)
    shutil.copytree(tree, repo / tree.name)  # DVC adds what is inside its repository (not timed)
    sync()
    cold = timed([str(DVC), "add", "-q", tree.name], repo)
    unchanged = timed([str(DVC), "add", "-q", tree.name], repo)
    shutil.rmtree(repo)
    return cold, unchanged


def machine_floor() -> str:
    import blake3

    data = os.urandom(256 << 20)
    started = time.perf_counter()
    blake3.blake3(data, max_threads=blake3.blake3.AUTO).digest()  # as Plimsoll hashes a big file
    seconds = time.perf_counter() - started
    return f"BLAKE3 (all threads) reads {len(data) / seconds / 1e9:.1f} GB/s here; {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big-gib", type=float, default=2.0)
    parser.add_argument("--small-files", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated trees (in the temp folder)")
    args = parser.parse_args()
    print(machine_floor())
    if not DVC.exists():
        print("DVC is not installed in .venv-bench-dvc: its column is skipped (bench/requirements-dvc.txt)")
    else:
        version = subprocess.run([str(DVC), "--version"], capture_output=True, text=True, check=False)
        print(f"DVC {version.stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="plimsoll-bench-data-") as tmp:
        work = Path(tmp)
        workloads = [
            (f"(a) one {args.big_gib:g} GiB file", lambda root: make_big(root, args.big_gib)),
            (f"(b) {args.small_files:,} files of 4 KiB", lambda root: make_small(root, args.small_files)),
        ]
        print(
            f"{'workload':<28} {'cp':>7} {'Plimsoll cold':>14} {'unchanged':>10} {'DVC cold':>9} {'unchanged':>10}"
        )
        for label, make in workloads:
            tree = work / "tree"
            make(tree)
            floor = run_cp(tree, work)
            plimsoll_cold, plimsoll_again = run_plimsoll(tree, work)
            dvc = run_dvc(tree, work)
            dvc_cold, dvc_again = dvc if dvc is not None else (float("nan"), float("nan"))
            print(
                f"{label:<28} {floor:>6.2f}s {plimsoll_cold:>13.2f}s {plimsoll_again:>9.2f}s "
                f"{dvc_cold:>8.2f}s {dvc_again:>9.2f}s"
            )
            if dvc is not None:
                print(
                    f"{'':<28} Plimsoll/cp {plimsoll_cold / floor:.2f}x; DVC/Plimsoll cold "
                    f"{dvc_cold / plimsoll_cold:.1f}x, unchanged {dvc_again / plimsoll_again:.1f}x"
                )
            if not args.keep:
                shutil.rmtree(tree)


if __name__ == "__main__":
    main()
