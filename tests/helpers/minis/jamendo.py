"""A miniature MTG-Jamendo mood/theme (the ``mtg-jamendo-dataset`` checkout's ``data/`` plus audio).

Quirks kept: tab-separated files with CRLF line ends and a variable number of tag fields
after TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION (tags ``mood/theme---happy``); split-0's
three TSVs in the same format, whose rows leave out some of the full file's tags (here
``mellow``), so a track carrying only such a tag is listed without labels and in no split; audio at
``audio/<PATH>`` (``NN/ID.mp3``), one track only as the low-quality download's
``NN/ID.low.mp3``, others not downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers.minis import Miniature, write_audio, write_text

HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"
TRACKS = {  # id: (path, duration, tags, split)
    "track_0000948": ("48/948.mp3", 212.7, ["background"], "train"),
    "track_0000950": ("50/950.mp3", 248.0, ["background", "film"], "train"),
    "track_0003346": ("46/3346.mp3", 195.0, ["calm", "melodic"], "validation"),
    "track_0025247": ("47/25247.mp3", 177.7, ["inspiring", "happy", "mellow"], "test"),
    "track_0029862": ("62/29862.mp3", 202.6, ["mellow"], None),  # only a tag the splits leave out
    "track_1032060": ("60/1032060.mp3", 336.0, ["advertising", "dramatic", "epic", "movie", "happy"], "test"),
}
AUDIO = {"track_0000948": "48/948.mp3", "track_0003346": "46/3346.low.mp3"}  # the rest: not downloaded
LEFT_OUT = {"mellow"}  # in the full file only: the split files list their tracks without it


def _line(tid: str, split_file: bool = False) -> str:
    path, duration, tags, _ = TRACKS[tid]
    number = tid.split("_")[1]
    return "\t".join([tid, f"artist_{int(number) % 997:06d}", f"album_{int(number) % 991:06d}", path, str(duration),
                      *(f"mood/theme---{t}" for t in tags if not (split_file and t in LEFT_OUT))])


def write(base: Path, seconds: float = 2.0) -> Miniature:
    root = base / "MTG-Jamendo"
    write_text(root / "data/autotagging_moodtheme.tsv", [HEADER] + [_line(t) for t in TRACKS], newline="\r\n")
    for split in ("train", "validation", "test"):
        write_text(root / f"data/splits/split-0/autotagging_moodtheme-{split}.tsv",
                   [HEADER] + [_line(t, split_file=True) for t, row in TRACKS.items() if row[3] == split],
                   newline="\r\n")
    audio = {t: write_audio(root / "audio" / rel, seconds, 44100, channels=2, seed=i)
             for i, (t, rel) in enumerate(AUDIO.items())}
    split_tags = sorted({tag for _, _, tags, split in TRACKS.values() if split for tag in tags} - LEFT_OUT)
    labelled = [t for t, row in TRACKS.items() if set(row[2]) & set(split_tags)]
    static = pd.DataFrame({"track_id": labelled})
    for tag in split_tags:
        static[tag] = [int(tag in TRACKS[t][2]) for t in labelled]
    return Miniature(
        root=root, config={}, track_ids=list(TRACKS), audio=audio,
        spec={"task": "tagging", "tags": split_tags, "static_targets": [], "scale": None},
        static=static, splits={t: row[3] for t, row in TRACKS.items() if row[3]},
        durations={t: row[1] for t, row in TRACKS.items()},
        notes=["CRLF TSV with variable tag fields", "a tag the splits leave out", "a .low.mp3 download"])
