"""What speech costs and how well it is heard, on clips made here (espeak-ng voices under generated video).

Prints:
- transcription speed as a realtime factor (seconds of audio per wall second) on speech-heavy audio
  (sentence after sentence), for each way of running the model (the first given is the baseline),
  with the CPU-time bound (what the same work gives on two cores of its own: the machine is shared
  and noisy) and the machine's load while it ran;
- word error rate of each on the synthesised set (two voices, two speaking rates), and how often
  one gives other words than the baseline (its agreement with the baseline's decoding);
- the cost of speech on a mostly silent video (a sentence every two minutes over room noise) against
  indexing the same video's pictures with the lite model, for each of ``--silent-configs`` in the
  same run, and the speech of a whole such hour against lite's CPU rate for an hour of those
  pictures: the target is under 10% on top of lite indexing (``--baseline REV`` measures the hour with
  another git revision's code too, interleaved with this checkout's, each in a process of its own);
- the gain of spoken-content queries over picture-only search, in the same run: one talking clip per
  sentence indexed without its speech and with it (heard by each of ``--silent-configs``), searched
  for what was said in its own words and in other words: MRR@10 and recall@1 of the right clip.

usage: python benchmarks/speech.py [--minutes 5] [--size 1280x720] [--picture camera|square]
                                  [--configs default,float32-beam5,int8-beam5,float32-greedy,int8-greedy,no-words]
                                  [--silent-configs default,float32-greedy]
                                  [--skip heavy,silent,hour,queries] [--baseline main]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from speechgen import ESPEAK, SPEECH_RATE, speak, write_talking_video  # noqa: E402
from videogen import moving_square  # noqa: E402

from vidsearch.speech.audio import iter_audio  # noqa: E402
from vidsearch.speech.read import read_speech  # noqa: E402
from vidsearch.speech.transcribe import Transcriber, usable_cores  # noqa: E402
from vidsearch.speech.types import Transcript  # noqa: E402

# Sentences of home-video talk, numbers in words so that no normalisation of digits is needed.
SENTENCES = [
    "Happy birthday grandpa, you are eighty years old today.",
    "Look at the waves, the tide is coming in fast.",
    "Can you pass me the salt and the pepper please.",
    "We are driving to the mountains for the weekend.",
    "The dog is chasing the ball across the garden.",
    "Blow out the candles and make a wish.",
    "This is the first time she rode her bicycle without help.",
    "Mix the flour with two eggs and a cup of milk.",
    "The train leaves at seven in the morning.",
    "Everybody wave to the camera and say hello.",
    "It is snowing outside and the children are building a snowman.",
    "Please put your shoes on, we are going to be late.",
    "The fireworks start after the sun goes down.",
    "Grandma is teaching us how to bake bread.",
    "We found a little crab under the big rock.",
    "Thank you all for coming to our wedding.",
]
VOICES = [("en-us", 160), ("en-gb", 140)]  # (espeak voice, words per minute)
GAP_S = 1.2


@dataclass(frozen=True)
class Config:
    name: str
    compute_type: str | None = None  # None: the Transcriber's default
    beam_size: int | None = None
    word_times: bool = True

    def settings(self, threads: int) -> dict[str, Any]:
        """The ``Transcriber`` keyword arguments of this way of running it."""
        settings: dict[str, Any] = {"threads": threads, "word_times": self.word_times}
        if self.compute_type is not None:
            settings["compute_type"] = self.compute_type
        if self.beam_size is not None:
            settings["beam_size"] = self.beam_size
        return settings

    def transcriber(self, threads: int) -> Transcriber:
        return Transcriber(**self.settings(threads))


def _defaults() -> str:
    import inspect

    params = inspect.signature(Transcriber).parameters
    beam = params["beam_size"].default
    precision = params["compute_type"].default
    precision = "the model's precision" if precision == "default" else precision
    return f"{precision}, {'greedy' if beam == 1 else f'beam {beam}'}"


CONFIGS = {
    # faster-whisper's own defaults with the model's stored precision (float32 on a CPU)
    "float32-beam5": Config("float32, beam 5 (faster-whisper's defaults)", "float32", 5),
    "default": Config(f"vidsearch's defaults ({_defaults()})"),
    "int8-beam5": Config("int8, beam 5", "int8", 5),
    "float32-greedy": Config("float32, greedy", "float32", 1),
    "int8-greedy": Config("int8, greedy", "int8", 1),
    "no-words": Config("vidsearch's defaults, no word times", word_times=False),
}


def load() -> str:
    """The machine's load average over the last minute (the CPUs are shared)."""
    return f"{os.getloadavg()[0]:.1f}"


def words_of(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level edit distance (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1]


def make_speech_set(folder: Path) -> list[tuple[Path, str]]:
    """One clip a voice: every sentence in turn with a short pause; returns (clip, reference text)."""
    clips = []
    for voice, rate in VOICES:
        parts = []
        for sentence in SENTENCES:
            pause = np.zeros(int(GAP_S * SPEECH_RATE), np.float32)
            parts += [speak(sentence, voice=voice, words_per_minute=rate), pause]
        sound = np.concatenate(parts)
        seconds = len(sound) / SPEECH_RATE
        path = write_talking_video(folder / f"talk-{voice}.mkv", seconds, sound=sound, size=(64, 48), fps=2)
        clips.append((path, " ".join(SENTENCES)))
    return clips


def bench_speech_heavy(work: Path, configs: Sequence[str], threads: int) -> None:
    clips = make_speech_set(work)
    audio_s = sum(sum(len(b.samples) for b in iter_audio(p)) / 16000 for p, _ in clips)
    print(f"speech-heavy set: {len(clips)} voices x {len(SENTENCES)} sentences, {audio_s:.0f} s of audio")
    reference_words: dict[Path, list[str]] | None = None
    for key in configs:
        config = CONFIGS[key]
        transcriber = config.transcriber(threads)
        load_before = load()
        wall = cpu = 0.0
        errors = words = 0
        heard: dict[Path, list[str]] = {}
        for path, reference in clips:
            t, c = time.perf_counter(), time.process_time()
            transcript = transcriber.transcribe(path)
            wall += time.perf_counter() - t
            cpu += time.process_time() - c
            heard[path] = words_of(transcript.text)
            errors += word_errors(words_of(reference), heard[path])
            words += len(words_of(reference))
        agreement = ""
        if reference_words is None:
            reference_words = heard
        else:
            diff = sum(word_errors(reference_words[p], heard[p]) for p in heard)
            total = sum(len(reference_words[p]) for p in heard)
            agreement = f"; differs from the baseline in {100 * diff / max(total, 1):.1f}% of words"
        print(
            f"  {config.name:45s} {wall:6.1f} s wall = {audio_s / wall:5.1f}x realtime, {cpu:6.1f} s CPU = "
            f"{audio_s / (cpu / threads):5.1f}x on {threads} cores of its own; load {load_before}-{load()}; "
            f"WER {100 * errors / words:5.1f}%{agreement}"
        )


def camera_like(seed: int = 0):
    """A slowly panning colour gradient with sensor grain: pictures that cost what camera footage
    costs to decode (flat synthetic colour decodes several times faster than any real video)."""
    rng = np.random.default_rng(seed)
    grains: dict[tuple[int, int], np.ndarray] = {}

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        if (w, h) not in grains:
            grains[(w, h)] = rng.integers(-12, 13, (8, h, w, 3), dtype=np.int16)
        grain = grains[(w, h)]
        x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        phase = 0.02 * t
        base = np.stack(
            [
                120 + 80 * np.sin(6 * (x + phase) + y),
                110 + 70 * np.cos(4 * y + x - phase),
                90 + 60 * np.sin(5 * (x + y)),
            ],
            axis=-1,
        )
        noisy = base.astype(np.int16) + grain[i % len(grain)]
        return np.clip(noisy, 0, 255).astype(np.uint8)

    return paint


def mostly_silent_sound(seconds: float) -> tuple[np.ndarray, float]:
    """Room noise with a sentence every two minutes; returns (samples at SPEECH_RATE, seconds spoken)."""
    sound = np.random.default_rng(0).normal(0, 0.004, int(seconds * SPEECH_RATE)).astype(np.float32)
    spoken = 0.0
    for k, when in enumerate(np.arange(30.0, seconds - 10, 120.0)):
        voice = speak(SENTENCES[k % len(SENTENCES)])
        at = int(when * SPEECH_RATE)
        sound[at : at + len(voice)] += voice[: len(sound) - at]
        spoken += len(voice) / SPEECH_RATE
    return sound, spoken


def bench_mostly_silent(
    work: Path,
    minutes: float,
    size: tuple[int, int],
    threads: int,
    picture: str,
    hour: bool,
    configs: Sequence[str] = ("default",),
    baseline: str = "",
) -> None:
    from vidsearch.index.indexer import update_index
    from vidsearch.index.speech import SpeechReader, SpeechSettings
    from vidsearch.models import load_embedder
    from vidsearch.store import Store

    seconds = minutes * 60
    lib = work / "silent"
    lib.mkdir()
    sound, spoken = mostly_silent_sound(seconds)
    t = time.perf_counter()
    video = write_talking_video(
        lib / "garden.mp4",
        seconds,
        sound=sound,
        fps=25,
        size=size,
        painter=camera_like() if picture == "camera" else moving_square((60, 120, 60), (230, 200, 50), 0.05),
    )
    print(
        f"mostly silent video ({picture} pictures): {minutes:.0f} min at {size[0]}x{size[1]}, {spoken:.0f} s speech "
        f"({100 * spoken / seconds:.1f}%), made in {time.perf_counter() - t:.0f} s"
    )
    embedder = load_embedder("lite")
    # each speech model is loaded once per run, as the indexer does: not what an hour of video costs
    transcribers = {key: CONFIGS[key].transcriber(threads) for key in configs}

    def index(name: str, speech: SpeechReader | None) -> tuple[float, float, Any, str]:
        with Store.open(work / f"silent-{name}.db") as store:
            before = load()
            t, c = time.perf_counter(), time.process_time()
            stats = update_index(store, [str(lib)], lambda: embedder, model_name="lite", speech=speech)
            elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        assert stats.indexed == 1, stats.skipped
        return elapsed, cpu, stats, f"{before}-{load()}"

    # The baseline (pictures only) is run before and after the runs with speech, and the faster of the
    # two is taken: the machine is shared, and the first run also warms the file cache.
    before = index("pictures-1", None)
    with_speech = {
        key: index(f"speech-{key}", SpeechReader(SpeechSettings(), transcriber=transcribers[key])) for key in configs
    }
    after = index("pictures-2", None)
    lite_s, lite_cpu, stats, lite_load = min(before, after, key=lambda r: r[0])
    print(
        f"  lite indexing, pictures only: {lite_s:6.1f} s wall ({seconds / lite_s:.1f}x realtime), {lite_cpu:6.1f} s "
        f"CPU (runs before and after: {before[0]:.1f} / {after[0]:.1f} s wall, {before[1]:.1f} / {after[1]:.1f} s "
        f"CPU; decode {stats.decode_seconds:.1f} s, embed {stats.embed_seconds:.1f} s); load {lite_load}"
    )
    for key, (full_s, full_cpu, full_stats, full_load) in with_speech.items():
        print(
            f"  lite indexing with speech, {CONFIGS[key].name}: {full_s:6.1f} s wall, {full_cpu:6.1f} s CPU; reading "
            f"the words {full_stats.speech_seconds:.1f} s of it: +{100 * (full_s - lite_s) / lite_s:.1f}% wall, "
            f"+{100 * (full_cpu - lite_cpu) / lite_cpu:.1f}% CPU (target < 10%); load {full_load}"
        )

    # the parts: reading the sound, voice-activity detection over all of it, and the whole of speech
    from faster_whisper.vad import get_speech_timestamps

    t, c = time.perf_counter(), time.process_time()
    samples = np.concatenate([b.samples for b in iter_audio(video)])
    read_s, read_cpu = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    get_speech_timestamps(samples)
    vad_s, vad_cpu = time.perf_counter() - t, time.process_time() - c
    print(
        f"  parts: reading the sound {read_s:.1f} s wall / {read_cpu:.1f} s CPU; "
        f"voice-activity detection {vad_s:.1f} s wall / {vad_cpu:.1f} s CPU"
    )
    for key, transcriber in transcribers.items():
        t, c = time.perf_counter(), time.process_time()
        transcript = read_speech(video, transcriber)
        speech_s, speech_cpu = time.perf_counter() - t, time.process_time() - c
        assert isinstance(transcript, Transcript)
        print(
            f"  speech alone, {CONFIGS[key].name} (subtitle check, audio, VAD, Whisper on "
            f"{transcript.speech_seconds:.0f} s): {speech_s:6.1f} s wall, {speech_cpu:5.1f} s CPU "
            f"({100 * speech_cpu / lite_cpu:.1f}% of lite's CPU); {len(transcript.lines)} lines heard"
        )
    if hour:
        # Whisper always hears 30 s at a time, so a short clip's few sentences cost a whole pass each;
        # an hour packs more speech into each pass. So the speech of a real hour is measured (under a
        # tiny picture: the pictures are not what is measured) against lite's CPU rate from above.
        sound, spoken = mostly_silent_sound(3600.0)
        long_video = write_talking_video(work / "hour.mkv", 3600.0, sound=sound, fps=1, size=(64, 48))
        del sound
        lite_hour_cpu = lite_cpu * 3600.0 / seconds
        lite_hour_wall = lite_s * 3600.0 / seconds
        print(
            f"  an hour of the same sound ({spoken:.0f} s spoken) against lite indexing of an hour of these "
            f"pictures ({lite_hour_cpu:.0f} s CPU, {lite_hour_wall:.0f} s wall, from the rates above; target < 10%):"
        )
        versions = [("this checkout", str(REPO))]
        if baseline:
            versions.insert(0, (f"baseline {baseline}", str(source_of(baseline, work / "baseline"))))
        for key in configs:
            for name, source in versions:
                before_load = load()
                heard = hear_in_process(long_video, source, CONFIGS[key].settings(threads), work)
                print(
                    f"    {CONFIGS[key].name}, {name}: speech {heard['wall']:.0f} s wall, {heard['cpu']:.0f} s CPU = "
                    f"{100 * heard['cpu'] / lite_hour_cpu:.1f}% of lite indexing's CPU, "
                    f"{100 * heard['wall'] / lite_hour_wall:.1f}% of its wall time; {heard['lines']} lines heard; "
                    f"load {before_load}-{load()}"
                )


REPO = Path(__file__).resolve().parent.parent

# Run with each version's code (PYTHONPATH): the speech of one file, timed after the model is loaded.
HEAR = """
import json, sys, time
from vidsearch.speech.read import read_speech
from vidsearch.speech.transcribe import Transcriber

transcriber = Transcriber(**json.loads(sys.argv[2]))
t, c = time.perf_counter(), time.process_time()
transcript = read_speech(sys.argv[1], transcriber)
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"wall": wall, "cpu": cpu, "lines": len(transcript.lines) if transcript else 0}))
"""


def hear_in_process(video: Path, source: str, settings: dict[str, Any], work: Path) -> dict[str, Any]:
    """Time ``read_speech`` of ``video`` in a new process importing vidsearch from ``source``."""
    env = {**os.environ, "PYTHONPATH": source}
    # -c puts the working folder first on the path: a neutral one, so ``source`` is what is imported
    done = subprocess.run(
        [sys.executable, "-c", HEAR, str(video), json.dumps(settings)],
        env=env, cwd=work, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def source_of(revision: str, into: Path) -> Path:
    """The source folder of ``revision`` of this repository (for PYTHONPATH), extracted under ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


# For each sentence of the speech-heavy set: a query in the words said, and one about what is said
# in other words (a paraphrase of its meaning). Nothing in the pictures of the talking clips tells them
# apart, so picture-only search has only chance to go on.
SPOKEN_QUERIES = [
    ("someone says happy birthday grandpa", "grandfather turning eighty"),
    ("the tide is coming in", "talking about the sea"),
    ("pass me the salt", "asking for seasoning at dinner"),
    ("driving to the mountains", "plans for a road trip"),
    ("the dog is chasing the ball", "someone talks about a puppy playing"),
    ("blow out the candles", "making a wish on a birthday cake"),
    ("she rode her bicycle without help", "learning to ride a bike"),
    ("mix the flour with two eggs", "she explains the recipe"),
    ("the train leaves at seven", "when the railway departs"),
    ("everybody wave to the camera", "greeting the people watching"),
    ("building a snowman", "winter weather with the kids"),
    ("put your shoes on", "hurrying to leave the house"),
    ("the fireworks start", "an evening celebration"),
    ("grandma is teaching us how to bake bread", "a baking lesson from grandmother"),
    ("a little crab under the big rock", "finding sea creatures on the shore"),
    ("thank you all for coming to our wedding", "a speech at a marriage"),
]


def spoken_query_gain(
    queries: Sequence[tuple[str, str]],
    picture_only: Callable[[str], Sequence[str]],
    with_speech: Callable[[str], Sequence[str]],
) -> tuple[tuple[float, float], tuple[float, float]]:
    """MRR@10 and recall@1 of the right file for each (query, expected path), picture-only vs with speech.

    The two callables run one search each and return result paths best first; the caller builds
    them over one library of talking clips (speech the only place the words are), so the difference
    is what speech adds.
    """

    def figures(search: Callable[[str], Sequence[str]]) -> tuple[float, float]:
        ranks = []
        for query, expected in queries:
            found = list(dict.fromkeys(search(query)))[:10]
            ranks.append(found.index(expected) + 1 if expected in found else None)
        mrr = float(np.mean([1.0 / r if r else 0.0 for r in ranks])) if ranks else 0.0
        return mrr, float(np.mean([r == 1 for r in ranks])) if ranks else 0.0

    return figures(picture_only), figures(with_speech)


def bench_spoken_queries(work: Path, threads: int, configs: Sequence[str] = ("default",)) -> None:
    """Index one talking clip per sentence (two voices, a picture that says nothing) without its speech
    and with it, heard by each way of running the speech model in ``configs``, and search each index
    for what was said, in its words and in other words."""
    from vidsearch.index.indexer import update_index
    from vidsearch.index.speech import SpeechReader, SpeechSettings
    from vidsearch.models import load_embedder
    from vidsearch.query.options import SearchOptions
    from vidsearch.query.search import find
    from vidsearch.store import Store

    lib = work / "spoken"
    lib.mkdir()
    clips = []
    for k, sentence in enumerate(SENTENCES):
        voice, rate = VOICES[k % len(VOICES)]
        sound = np.concatenate([np.zeros(SPEECH_RATE, np.float32), speak(sentence, voice=voice, words_per_minute=rate)])
        seconds = len(sound) / SPEECH_RATE + 1.0
        painter = moving_square((40 + 10 * k, 90, 140), (230, 200, 50), 0.05)
        clips.append(write_talking_video(lib / f"clip_{k:02d}.mp4", seconds, sound=sound, painter=painter,
                                         size=(160, 120), fps=5))  # fmt: skip
    embedder = load_embedder("lite")
    readers: list[tuple[str, SpeechReader | None]] = [("pictures", None)]
    readers += [(key, SpeechReader(SpeechSettings(), CONFIGS[key].transcriber(threads))) for key in configs]
    searches = {}
    for name, speech in readers:
        store = Store.open(work / f"spoken-{name}.db")
        update_index(store, [str(lib)], lambda: embedder, model_name="lite", speech=speech)
        searches[name] = store
    print(f"spoken queries: {len(clips)} talking clips, {2 * len(clips)} queries, picture-only vs with speech")
    for key in configs:
        print(f"  speech heard by {CONFIGS[key].name}:")
        for kind, column in (("in the words said", 0), ("in other words", 1)):
            queries = [(pair[column], str(clip)) for pair, clip in zip(SPOKEN_QUERIES, clips, strict=True)]
            for cutoff, label in ((None, "default cut-off"), (-1.0, "no cut-off")):
                options = SearchOptions(limit=10, min_match=cutoff)

                def search(store: Store, options: SearchOptions = options) -> Callable[[str], list[str]]:
                    return lambda q: [h.path for h in find(store, embedder, q, options)]

                (p_mrr, p_r1), (s_mrr, s_r1) = spoken_query_gain(
                    queries, search(searches["pictures"]), search(searches[key])
                )
                print(
                    f"    {kind:18s} ({label:15s}): MRR@10 {p_mrr:.3f} -> {s_mrr:.3f}, "
                    f"recall@1 {p_r1:.2f} -> {s_r1:.2f}"
                )
    for store in searches.values():
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the mostly silent video")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument(
        "--picture",
        choices=("camera", "square"),
        default="camera",
        help="camera-like grain (decodes like real footage) or a flat moving square",
    )
    parser.add_argument(
        "--configs",
        default="default,float32-greedy,int8-greedy",
        help=f"ways to run the speech model, the baseline first, of: {', '.join(CONFIGS)}",
    )
    parser.add_argument(
        "--silent-configs",
        default="default,float32-greedy",
        help="the same, for the mostly silent video and the spoken queries",
    )
    parser.add_argument("--threads", type=int, default=min(2, usable_cores()))
    parser.add_argument("--skip", default="", help="comma-separated: heavy, silent, hour, queries")
    parser.add_argument(
        "--baseline", default="", help="a git revision whose code also hears the silent hour, for comparison"
    )
    args = parser.parse_args()
    if ESPEAK is None:
        sys.exit("espeak-ng is needed to make the talking clips (apt-get install espeak-ng)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    skip = set(args.skip.split(","))
    w, h = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "heavy" not in skip:
            bench_speech_heavy(work, [c for c in args.configs.split(",") if c], args.threads)
        silent = [c for c in args.silent_configs.split(",") if c]
        if "silent" not in skip:
            bench_mostly_silent(
                work, args.minutes, (w, h), args.threads, args.picture, "hour" not in skip, silent, args.baseline
            )
        if "queries" not in skip:
            bench_spoken_queries(work, args.threads, silent)


if __name__ == "__main__":
    main()
