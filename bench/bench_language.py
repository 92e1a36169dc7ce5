"""Language-ID candidates on short Turkish and English news texts (issue 11, item 6).

Each candidate is restricted to tr and en, as collect uses it; the texts are the test
set in tests/data/language/ (titles and first sentences, one per line). Prints accuracy,
the median time per text over alternated rounds, the first-call (load) time, and the
installed size of the package. Run: python bench/bench_language.py
"""

from __future__ import annotations

import importlib.metadata
import statistics
import time
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "language"


def samples() -> list[tuple[str, str]]:
    return [
        (lang, line.strip())
        for lang in ("tr", "en")
        for line in (DATA / f"news-{lang}.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def lingua_detector() -> Callable[[str], str]:
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_languages(Language.TURKISH, Language.ENGLISH).build()
    names = {Language.TURKISH: "tr", Language.ENGLISH: "en"}
    return lambda text: names.get(detector.detect_language_of(text), "")


def langdetect_detector() -> Callable[[str], str]:
    from langdetect import DetectorFactory, detect_langs

    DetectorFactory.seed = 0

    def detect(text: str) -> str:
        ranked = [g for g in detect_langs(text) if g.lang in ("tr", "en")]
        return ranked[0].lang if ranked else ""

    return detect


def py3langid_detector() -> Callable[[str], str]:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(Path(MODEL_DIR) / MODEL_FILE)
    identifier.set_languages(["tr", "en"])
    return lambda text: str(identifier.classify(text)[0])


CANDIDATES = {
    "lingua-language-detector": lingua_detector,
    "langdetect": langdetect_detector,
    "py3langid": py3langid_detector,
}


def installed_mb(distribution: str) -> float:
    files = importlib.metadata.distribution(distribution).files or []
    return sum(f.locate().stat().st_size for f in files if Path(f.locate()).exists()) / 1e6


def main() -> None:
    texts = samples()
    detectors = {}
    for name, make in CANDIDATES.items():
        start = time.perf_counter()
        detectors[name] = make()
        detectors[name]("Bu bir deneme cümlesidir.")
        print(f"{name}: load + first call {1000 * (time.perf_counter() - start):.0f} ms")
    timings: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(5):  # alternated rounds, medians reported (shared/BENCH.md)
        for name, detect in detectors.items():
            start = time.perf_counter()
            for _lang, text in texts:
                detect(text)
            timings[name].append((time.perf_counter() - start) / len(texts))
    print(f"{len(texts)} texts")
    print("| library | right | wrong | accuracy | per text | installed |")
    print("|---|---|---|---|---|---|")
    for name, detect in detectors.items():
        wrong = [(lang, text) for lang, text in texts if detect(text) != lang]
        right = len(texts) - len(wrong)
        per_text = 1e6 * statistics.median(timings[name])
        print(
            f"| {name} | {right} | {len(wrong)} | {100 * right / len(texts):.1f}% "
            f"| {per_text:.0f} us | {installed_mb(name):.0f} MB |"
        )
        for lang, text in wrong:
            print(f"    wrong ({lang}): {text}")


if __name__ == "__main__":
    main()
