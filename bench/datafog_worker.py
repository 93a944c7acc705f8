"""DataFog, in .venv-bench (its own environment: never a Detour dependency), for bench/peers.py.

Reads a JSON object ``{"engine": "python" | "rust", "texts": [...], "runs": 3}`` on stdin; writes, per text,
the results (character offsets, DataFog's entity type) and the seconds the scan took (the best of ``runs``).
``python``: DataFog's regex engine (``datafog.scan``); ``rust``: its Rust backend (``datafog_core.scan``).

    .venv-bench/bin/python bench/datafog_worker.py < request.json
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> None:
    request = json.load(sys.stdin)
    if request["engine"] == "rust":
        import datafog_core

        def scan(text: str) -> list[list[Any]]:
            return [[f.codepoint_range.start, f.codepoint_range.end, f.entity_type] for f in datafog_core.scan(text)]
    else:
        import datafog

        def scan(text: str) -> list[list[Any]]:
            return [[e.start, e.end, e.type] for e in datafog.scan(text, engine="regex").entities]
    scan("warm up: anna@example.com")
    out = []
    for text in request["texts"]:
        seconds = []
        for _ in range(request.get("runs", 1)):  # the best of a few, as Detour is timed
            start = time.perf_counter()
            results = scan(text)
            seconds.append(time.perf_counter() - start)
        out.append({"seconds": min(seconds), "results": results})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
