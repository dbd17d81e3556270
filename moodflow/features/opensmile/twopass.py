"""openSMILE's whole-input functionals of a long signal in bounded memory: two passes.

A feature set's functionals (ComParE's 6373, eGeMAPS's 88) summarise every low-level-descriptor
(LLD) frame of the input, so openSMILE keeps every frame of the levels they read — about 4 KB
per 10 ms frame for ComParE (the LLD values, their time stamps, and the doubling of growing
buffers): 1.5 GB an hour. Here:

1. **LLD pass** — the stock configuration without its functionals (and what reads their
   output), every level in a ring buffer, the audio streamed into a ring-buffer input. External
   sinks copy the levels the functionals read to temporary files on disk (about 0.5 KB a frame)
   and the ``lld;lld_de`` rows to the caller (the grid statistics). Just before the end of input
   is signalled, the row count of every level is taken once openSMILE has gone idle.
2. **Functionals pass(es)** — each stock ``cFunctionals`` section, copied verbatim, reads its
   input from ``cExternalSource`` levels (no time stamps, preallocated) filled from the spill,
   two columns at a time: openSMILE's functionals are computed per column, so a component's
   output over a column group is its output for those columns. Components whose output feeds a
   further component (eGeMAPS's equivalent sound level, its temporal set) run whole, with it.

Which frames the stock functionals see is decided by openSMILE's end-of-input scheduling: a
full-input functional computes in the first end-of-input tick, when each input level holds its
pre-end rows and one more (measured: every component of ComParE_2016 and eGeMAPSv02, several
lengths and rates). So a component reading levels L1;L2 gets ``min(pre-end rows) + 1`` frames.
The split of the configuration is ``moodflow.features.opensmile.split``. The result equals
:func:`~moodflow.features.opensmile.smile.run_smile`'s functionals bit for bit
(tests/test_long_audio.py checks it on real audio); memory is one column group of the track's
frames (about 4 KB a second of audio at two columns) instead of every level.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from moodflow.features.opensmile.smile import (
    SINK_LLD, SOURCE, StreamRowSink, frame_step, smile_options, set_row_sink, smile_names, to_pcm16,
)
from moodflow.features.opensmile.split import Group, Plan, Section, plan
from moodflow.stores.signal import BLOCK_S, Signal

COLUMNS = 2  # LLD columns per functionals pass (measured: about 20 bytes a frame per column)


@dataclass
class _Spill:
    """One level's rows on disk (float32; row-major while written, then column-major) and the
    facts pass 2 needs."""

    file: object
    names: list[str]
    rows: int = 0
    pre_end: int = 0
    by_column: object = None

    def transpose(self, folder: str, block: int = 1 << 16) -> None:
        """Rewrite the rows column by column, so that a column reads in one piece."""
        width = len(self.names)
        out = open(os.path.join(folder, os.path.basename(self.file.name) + ".T"), "w+b")
        out.truncate(self.rows * width * 4)
        self.file.seek(0)
        for a in range(0, self.rows, block):
            n = min(block, self.rows - a)
            part = np.fromfile(self.file, dtype=np.float32, count=n * width).reshape(n, width)
            for k in range(width):
                out.seek((k * self.rows + a) * 4)
                np.ascontiguousarray(part[:, k]).tofile(out)
        self.file.close()
        self.by_column = out

    def column(self, k: int, rows: int) -> np.ndarray:
        """The first ``rows`` values of column ``k``."""
        self.by_column.seek(k * self.rows * 4)
        return np.fromfile(self.by_column, dtype=np.float32, count=rows)

    def close(self) -> None:
        for f in (self.file, self.by_column):
            if f is not None:
                f.close()


def long_functionals(signal: Signal, feature_set: str, lld_levels: tuple[str, ...],
                     on_lld: Callable[[np.ndarray, np.ndarray], None], *, block_s: float = BLOCK_S,
                     ring_s: float = 20.0) -> np.ndarray:
    """The functionals of ``signal`` (as :func:`run_smile` computes them) in two passes; the
    ``lld_levels`` rows (n, L) go to ``on_lld(rows, start_s)`` in time order meanwhile."""
    p = plan(feature_set, tuple(lld_levels))
    lld_names, func_names = smile_names(feature_set, tuple(lld_levels))
    with tempfile.TemporaryDirectory(prefix="moodflow-smile-spill-") as folder:
        spills, period = _lld_pass(p, signal, len(lld_names), on_lld, folder, block_s, ring_s)
        try:
            for spill in spills.values():
                spill.transpose(folder)
            static = np.concatenate([_functionals(group, spills, period) for group in p.groups]).astype(np.float32)
        finally:
            for spill in spills.values():
                spill.close()
    if len(static) != len(func_names):
        raise RuntimeError(f"openSMILE {feature_set}: {len(static)} functionals, {len(func_names)} names")
    return static


def _lld_pass(p: Plan, signal: Signal, n_lld: int, on_lld: Callable, folder: str, block_s: float,
              ring_s: float) -> tuple[dict[str, _Spill], float]:
    from opensmile.core.lib import OpenSMILE

    sr = signal.sample_rate
    options = {k: v for k, v in smile_options(("lld",), sr).items() if k in ("sampleRate", "nBits")}
    options["waveRingFrames"] = int(round(ring_s * sr))
    smile = OpenSMILE()
    smile.initialize(config_file=p.lld_config, options=options, loglevel=1)
    lld = StreamRowSink()
    sinks, spills = {}, {}
    step: list[float] = []
    failed: list[BaseException] = []
    native: list[int] = []
    try:
        set_row_sink(smile, SINK_LLD, lld)
        for i, lv in enumerate(p.inputs):
            sinks[lv] = StreamRowSink()
            set_row_sink(smile, f"spill{i}", sinks[lv])
            n = smile.external_sink_get_num_elements(f"spill{i}")
            names = [smile.external_sink_get_element_name(f"spill{i}", k) for k in range(n)]
            spills[lv] = _Spill(open(os.path.join(folder, f"level{i}.f32"), "w+b"), names)

        held: list[tuple] = []  # rows that came before the frame step is known

        def deliver(final: bool = False) -> None:
            part = lld.drain(n_lld)
            if not step:  # the step from rows past the first (openSMILE's is constant)
                held.append(part)
                rows, idx, times, period = (np.concatenate([h[0] for h in held]), np.concatenate([h[1] for h in held]),
                                            np.concatenate([h[2] for h in held]), held[0][3])
                if not (final or ((idx > 0) & (np.diff(times, prepend=-1.0) > 0)).any()):
                    return
                held.clear()
                step.append(frame_step(idx, times, period, sr))
            else:
                rows, idx, _, _ = part
            if len(idx):
                on_lld(rows, idx.astype(np.float64) * step[0])
            for lv, sink in sinks.items():
                rows, _, _, _ = sink.drain(len(spills[lv].names))
                rows.tofile(spills[lv].file)
                spills[lv].rows += len(rows)

        def run() -> None:
            native.append(threading.get_native_id())
            try:
                smile.run()
            except BaseException as exc:  # noqa: BLE001 - raised in the feeding thread
                failed.append(exc)

        worker = threading.Thread(target=run, name="opensmile", daemon=True)
        worker.start()
        try:
            write = max(1, min(sr, int(round(ring_s * sr)) // 4))
            for block in signal.blocks(signal.block_size(block_s)):
                if not np.isfinite(block).all():
                    raise ValueError("openSMILE: the signal contains NaN or infinite samples")
                pcm = to_pcm16(block)
                for i in range(0, len(pcm), write):
                    data = pcm[i:i + write].tobytes()
                    while not smile.external_audio_source_write_data(SOURCE, data):
                        if not worker.is_alive():
                            raise RuntimeError(f"openSMILE stopped: {failed[0] if failed else 'no reason given'}")
                        time.sleep(0.002)
                deliver()
            _wait_idle(worker, native, sinks)
            for lv, sink in sinks.items():
                spills[lv].pre_end = spills[lv].rows + len(sink.idx)
            period = sinks[p.inputs[0]].period
            smile.external_audio_source_set_eoi(SOURCE)
        except BaseException:
            smile.abort()
            raise
        finally:
            worker.join()
        if failed:
            raise failed[0]
        deliver(final=True)
    finally:
        smile.free()
    return spills, period


def _wait_idle(worker: threading.Thread, native: list[int], sinks: dict, quiet: int = 3) -> None:
    """Return once openSMILE's thread has processed all the audio written so far: it sleeps
    (waiting for more input), its CPU time and every sink's row count unchanged over ``quiet``
    checks 50 ms apart. A thread that is runnable but not scheduled shows state R, not S."""
    stat = f"/proc/self/task/{native[0]}/stat" if native else ""
    last, calm = None, 0
    while calm < quiet and worker.is_alive():
        time.sleep(0.05)
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            state, cpu = fields[0], int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            state, cpu = "S", 0  # no /proc: fall back to the row counts alone
        now = (cpu, tuple(len(s.idx) for s in sinks.values()))
        calm = calm + 1 if state == "S" and now == last else 0
        last = now


def _frames(comp: Section, spills: dict[str, _Spill]) -> int:
    """Frames the stock component would read: its input levels' pre-end rows, plus one."""
    levels = comp.levels()
    return min(min(spills[lv].pre_end for lv in levels) + 1, min(spills[lv].rows for lv in levels))


def _reader(spills: dict[str, _Spill], columns: list[tuple[str, int]]) -> Callable[[int], np.ndarray]:
    """A function reading the first n rows of ``columns`` ((level, column) pairs, in order)."""
    def read(n: int) -> np.ndarray:
        out = np.empty((n, len(columns)), dtype=np.float32)
        for j, (lv, k) in enumerate(columns):
            out[:, j] = spills[lv].column(k, n)
        return out
    return read


def _functionals(group: Group, spills: dict[str, _Spill], period: float) -> np.ndarray:
    """One group's functionals, its columns ``COLUMNS`` at a time when it may be split."""
    if group.split:
        comp = group.functionals[0]
        frames = _frames(comp, spills)
        columns = [(lv, k) for lv in comp.levels() for k in range(len(spills[lv].names))]
        parts = []
        for a in range(0, len(columns), COLUMNS):
            chunk = columns[a:a + COLUMNS]
            source = ("part", [spills[lv].names[k] for lv, k in chunk], _reader(spills, chunk), frames)
            parts.append(_run_functionals([comp.render(reader="part")], [source], group.outputs, period))
        return np.concatenate(parts)
    frames: dict[str, int] = {}  # each level's frames, as the component reading it would see them
    for comp in group.functionals:
        for lv in comp.levels():
            if frames.setdefault(lv, _frames(comp, spills)) != _frames(comp, spills):
                raise RuntimeError(f"openSMILE: two functionals would read level {lv} at different lengths")
    sources = [(lv, spills[lv].names, _reader(spills, [(lv, k) for k in range(len(spills[lv].names))]), n)
               for lv, n in frames.items()]
    return _run_functionals([comp.render() for comp in group.functionals + group.post], sources, group.outputs,
                            period)


def _run_functionals(sections: list[list[str]], sources: list[tuple], outputs: list[str],
                     period: float) -> np.ndarray:
    """Run openSMILE through ``sections`` on external sources (level name, element names, reader
    of the first n rows, n); the row written to ``outputs``."""
    from opensmile.core.lib import OpenSMILE, smileapi

    names = [line.split("[", 1)[1].split(":", 1)[0] for text in sections for line in text[:1]]
    kinds = [line.split(":", 1)[1].rstrip("]") for text in sections for line in text[:1]]
    cfg = ["[componentInstances:cComponentManager]", "instance[dataMemory].type=cDataMemory"]
    cfg += [f"instance[src{i}].type=cExternalSource" for i in range(len(sources))]
    cfg += [f"instance[{n}].type={k}" for n, k in zip(names, kinds)]
    cfg += ["instance[funcout].type=cExternalSink"]
    for i, (level, elements, _, frames) in enumerate(sources):
        cfg += [f"[src{i}:cExternalSource]", f"writer.dmLevel = {level}", f"period = {period!r}",
                f"blocksize = {max(1, min(frames, 1 << 16))}", "writer.levelconf.growDyn = 1",
                "writer.levelconf.isRb = 0", f"writer.levelconf.nT = {frames + 1}"]
        cfg += [f"fieldNames[{k}] = {name}" for k, name in enumerate(elements)]
    for text in sections:
        cfg += text
    cfg += ["[funcout:cExternalSink]", f"reader.dmLevel = {';'.join(outputs)}", "blocksize = 1"]
    with tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="moodflow-func-", delete=False) as f:
        f.write("\n".join(cfg) + "\n")
    smile = OpenSMILE()
    try:
        smile.initialize(config_file=f.name, options={}, loglevel=int(os.environ.get("MF_SMILE_LOG", "1")), console_output=bool(os.environ.get("MF_SMILE_LOG")))
        result: list[np.ndarray] = []
        smile.external_sink_set_callback_ex("funcout", lambda data, meta: result.append(data.copy()))
        for i, (_, _, read, frames) in enumerate(sources):
            data = np.ascontiguousarray(read(frames), dtype=np.float32)
            for a in range(0, frames, 1 << 16):
                part = np.ascontiguousarray(data[a:a + (1 << 16)])
                code = smileapi.smile_extsource_write_data(
                    smile._smileobj, f"src{i}".encode(), part.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), len(part))
                if code != 0:
                    raise RuntimeError(f"openSMILE refused functionals input (code {code})")
            del data
            smile.external_source_set_eoi(f"src{i}")
        smile.run()
    finally:
        smile.free()
        os.unlink(f.name)
    if len(result) != 1:
        raise RuntimeError(f"openSMILE: {len(result)} functionals rows, expected 1")
    return result[0].reshape(-1)
