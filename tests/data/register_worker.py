"""A process that registers a folder with a server and reports each upload: the test kills it
(SIGKILL) midway. It pauses after each upload so that the kill lands between uploads, with some
contents stored and the version not yet created."""

from __future__ import annotations

import sys
import time

from plimsoll.client import Client


def main() -> None:
    url, name, folder = sys.argv[1:4]

    def report(phase: str, done: int, total: int) -> None:
        if phase == "uploading":
            print(f"uploading {done} {total}", flush=True)
            if done:
                time.sleep(0.5)

    with Client(url) as client:
        version = client.datasets.register(name, folder, progress=report)
    print(f"registered {version.version}", flush=True)


if __name__ == "__main__":
    main()
