"""Playing hits: which player is chosen, what it is told, and (with a real mpv) what it really plays."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest
from videogen import Scene, solid, write_video

from vidsearch.errors import PlayerNotFoundError, UsageError
from vidsearch.output.player import Player, find_player, play, player_command
from vidsearch.output.present import m3u_playlist, mpv_edl
from vidsearch.types import Hit

GREEN, RED, BLUE, WHITE, DARK = (0, 200, 0), (200, 0, 0), (0, 0, 200), (200, 200, 200), (20, 20, 20)


def fake_programs(folder: Path, *names: str) -> str:
    folder.mkdir(exist_ok=True)
    for name in names:
        exe = folder / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return str(folder)


def test_player_choice_order(tmp_path: Path) -> None:
    path = fake_programs(tmp_path / "bin", "mpv", "vlc", "xdg-open")
    assert find_player({"PATH": path}).kind == "mpv"
    assert find_player({"PATH": path, "VIDSEARCH_PLAYER": "vlc --fullscreen"}).command[-1] == "--fullscreen"
    only_vlc = fake_programs(tmp_path / "vlc-only", "vlc", "xdg-open")
    assert find_player({"PATH": only_vlc}).kind == "vlc"
    if sys.platform != "darwin":
        assert find_player({"PATH": fake_programs(tmp_path / "bare", "xdg-open")}).kind == "opener"
    with pytest.raises(PlayerNotFoundError, match="no video player found") as err:
        find_player({"PATH": str(tmp_path / "empty")})
    assert err.value.exit_code == 2 and isinstance(err.value, UsageError)
    with pytest.raises(PlayerNotFoundError, match="not an installed program"):
        find_player({"PATH": path, "VIDSEARCH_PLAYER": "celluloid"})


def test_commands_carry_the_times() -> None:
    one = [Hit("/v/a.mp4", 5.0, 9.5, 1.0)]
    two = [*one, Hit("/v/b,c.mkv", 1.0, 2.0, 0.5)]
    assert player_command(Player("mpv", ("mpv",)), one) == [
        "mpv",
        "--start=5.000",
        "--end=9.500",
        "--",
        "/v/a.mp4",
    ]
    assert player_command(Player("mpv", ("mpv",)), two) == [
        "mpv",
        "--",
        "edl://%8%/v/a.mp4,5.000,4.500;%10%/v/b,c.mkv,1.000,1.000",
    ]
    assert player_command(Player("vlc", ("vlc",)), two) == [
        "vlc",
        "/v/a.mp4",
        ":start-time=5.000",
        ":stop-time=9.500",
        "/v/b,c.mkv",
        ":start-time=1.000",
        ":stop-time=2.000",
    ]
    assert player_command(Player("opener", ("xdg-open",)), two) == ["xdg-open", "/v/a.mp4"]
    custom = Player("custom", ("myplayer", "--seek={start}", "{path}"))
    assert player_command(custom, two) == ["myplayer", "--seek=5.000", "/v/a.mp4"]


@pytest.mark.slow
def test_play_without_any_player_exits_2_before_searching(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no mpv, vlc or opener
    done = subprocess.run(
        [sys.executable, "-m", "vidsearch", "play", "a dog"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    assert "no video player found" in done.stderr and "VIDSEARCH_PLAYER" in done.stderr



@pytest.mark.slow
@pytest.mark.parametrize("value", ['"mpv', "mpv 'x", "   ", "mpv \\"])
def test_a_player_setting_that_is_not_a_command_line_exits_2_in_one_line(value: str) -> None:
    env = {**os.environ, "VIDSEARCH_PLAYER": value}
    done = subprocess.run(
        [sys.executable, "-m", "vidsearch", "play", "a dog"], capture_output=True, text=True, env=env
    )
    if not value.strip():
        assert done.returncode != 1 and "Traceback" not in done.stderr  # unset: the usual choice
        return
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("vidsearch: VIDSEARCH_PLAYER=") and "quoting" in done.stderr


# ---- with a real mpv ------------------------------------------------------------------------------
needs_mpv = pytest.mark.skipif(
    shutil.which("mpv") is None, reason="mpv is not installed (.ci/run installs it)"
)
HEADLESS = ("--no-config", "--ao=null")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("play")
    a = write_video(
        folder / "trip, day 1.mp4", [Scene(solid(GREEN), 4), Scene(solid(RED), 4), Scene(solid(BLUE), 4)]
    )
    b = write_video(folder / "second.mp4", [Scene(solid(WHITE), 6), Scene(solid(DARK), 6)])
    return a, b


def first_frame_colour(args: list[str], tmp_path: Path) -> tuple[int, ...]:
    """The colour of the first frame mpv shows for ``args`` (its image output, decoded)."""
    out = tmp_path / "shots"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        "mpv",
        *HEADLESS,
        "--really-quiet",
        "--vo=image",
        "--vo-image-format=png",
        f"--vo-image-outdir={out}",
        "--frames=1",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shot = sorted(out.glob("*.png"))[0]
    with av.open(str(shot)) as c:
        pixels = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return tuple(int(round(v / 20)) * 20 for v in pixels.mean(axis=(0, 1)))


@pytest.mark.slow
@needs_mpv
def test_mpv_plays_the_edl_moments_in_order_from_their_starts(
    videos: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = videos
    hits = [Hit(str(a), 5.0, 7.0, 2.0), Hit(str(b), 7.5, 9.0, 1.0)]
    edl = tmp_path / "hits.edl"
    edl.write_text(mpv_edl(hits))
    # mpv's own account: one chapter per moment, in order, from the right files, the right lengths
    msg = (
        "TIMELINE|${=duration}|${chapter-list/count}|${chapter-list/0/title}|${chapter-list/1/title}|"
        "${=chapter-list/1/time}"
    )
    shown = subprocess.run(
        ["mpv", *HEADLESS, "--vo=null", "--frames=1", f"--term-playing-msg={msg}", str(edl)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(s for s in shown.stdout.splitlines() if s.startswith("TIMELINE"))
    _, duration, count, first, second, second_at = line.split("|")
    assert float(duration) == pytest.approx(3.5, abs=0.15) and count == "2"
    assert (first, second) == (str(a), str(b))
    assert float(second_at) == pytest.approx(2.0, abs=0.15)  # the first moment lasts its 2 s
    # and the pictures: the EDL starts on a's red (5 s), its second moment on b's dark half (7.5 s)
    assert first_frame_colour([str(edl)], tmp_path) == (200, 0, 0)
    assert first_frame_colour(["--start=2.2", str(edl)], tmp_path) == (20, 20, 20)


@pytest.mark.slow
@needs_mpv
def test_play_starts_mpv_at_the_moment(videos: tuple[Path, Path], capfd: pytest.CaptureFixture[str]) -> None:
    a, _ = videos
    msg = "PLAYING ${=time-pos} ${path}"
    player = Player("mpv", ("mpv", *HEADLESS, "--vo=null", "--frames=2", f"--term-playing-msg={msg}"))
    assert play([Hit(str(a), 8.5, 10.0, 1.0)], player) == 0
    line = next(s for s in capfd.readouterr().out.splitlines() if s.startswith("PLAYING"))
    _, pos, path = line.split(" ", 2)
    assert path == str(a) and float(pos) == pytest.approx(8.5, abs=0.11)


@needs_mpv
def test_mpv_opens_the_m3u_entries(videos: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = videos
    odd = tmp_path / "new\nline.mp4"
    shutil.copy(b, odd)
    playlist = tmp_path / "hits.m3u"
    playlist.write_text(m3u_playlist([Hit(str(odd), 1.0, 2.0, 1.0), Hit(str(a), 5.0, 7.0, 0.5)]))
    msg = "PLAYING ${playlist-count} ${=duration}"
    shown = subprocess.run(
        ["mpv", *HEADLESS, "--vo=null", "--frames=1", f"--term-playing-msg={msg}", str(playlist)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(s for s in shown.stdout.splitlines() if s.startswith("PLAYING"))
    count, duration = line.split()[1:]
    assert count == "2" and float(duration) == pytest.approx(12.0, abs=0.2)  # the file with a newline opened


@pytest.mark.slow
@needs_mpv
def test_mpv_plays_every_moment_of_files_whose_names_hold_edl_syntax(
    videos: tuple[Path, Path], tmp_path: Path
) -> None:
    # each name holds a character mpv's EDL grammar reads as syntax; one unescaped makes mpv refuse the
    # whole list ("Missing filename in segment"), so every result would fail to play
    _, b = videos
    names = ["a=b.mp4", "c,d.mp4", "e;f.mp4", "100%.mp4", "#hash.mp4", "!bang.mp4", " lead space.mp4",
             "new\nline.mp4", "é=ü,ß.mp4", "%5%x.mp4"]
    hits = []
    for name in names:
        shutil.copy(b, tmp_path / name)
        hits.append(Hit(str(tmp_path / name), 1.0, 2.0, 1.0))
    edl = tmp_path / "hits.edl"
    edl.write_text(mpv_edl(hits))
    msg = "TIMELINE|${=duration}|${chapter-list/count}"
    shown = subprocess.run(
        ["mpv", *HEADLESS, "--vo=null", "--frames=1", f"--term-playing-msg={msg}", str(edl)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    line = next(s for s in shown.stdout.splitlines() if s.startswith("TIMELINE"))
    _, duration, count = line.split("|")
    assert count == str(len(names)) and float(duration) == pytest.approx(len(names) * 1.0, abs=0.2)
    # and each chapter is the file it names (titles of names without a newline read back whole)
    titles = "|".join(f"${{chapter-list/{i}/title}}" for i in range(len(names)))
    shown = subprocess.run(
        ["mpv", *HEADLESS, "--vo=null", "--frames=1", f"--term-playing-msg=TITLES|{titles}", str(edl)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(s for s in shown.stdout.splitlines() if s.startswith("TITLES|"))
    single = [str(tmp_path / n) for n in names[: names.index("new\nline.mp4")]]
    assert line.split("|")[1 : 1 + len(single)] == single
