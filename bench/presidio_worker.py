"""Presidio's default AnalyzerEngine in a process of its own, for bench/detection.py.

Its own process, because Presidio's recognizer loader finds classes by name,
and Detour's recognizers share some of those names. Reads a JSON list of texts
on stdin; writes, per text, the results and the seconds ``analyze`` took (the best of RUNS, 1 by default).

    python bench/presidio_worker.py MODEL_DIRECTORY [RUNS] < texts.json
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main() -> None:
    warnings.simplefilter("ignore")  # W095: the model was trained on an older spaCy 3.x
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": sys.argv[1]}]}
    engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine(),
                            supported_languages=["en"])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    out = []
    for text in json.load(sys.stdin):
        seconds = []
        for _ in range(runs):  # the best of a few, as Detour is timed
            start = time.perf_counter()
            results = engine.analyze(text=text, language="en")
            seconds.append(time.perf_counter() - start)
        out.append({"seconds": min(seconds),
                    "results": [[r.start, r.end, r.entity_type, float(r.score)] for r in results]})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
