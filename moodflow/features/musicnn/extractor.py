"""musicnn embeddings and tags (Pons & Serra 2019), from the weights the ``musicnn`` wheel ships.

Per track: the signal is resampled to 16 kHz (soxr HQ, as ``librosa.load``), turned into the
reference's log-mel spectrogram (librosa's, computed bit for bit in numpy by ``melspec``:
512-point FFT, hop 256, 96 mel bands,
``log10(10000·mel + 1)`` — computed in float32: the packaged code's float16 cast overflows on
loud music, see ``docs/features.md``) and cut into 3 s patches of 187 frames, as
``musicnn.extractor`` cuts them (from frame 0, every ``patch_hop_s``, non-overlapping by
default). moodflow adds one patch ending at the last frame when the reference's patches leave
a tail uncovered, and repeat-pads a track shorter than one patch (as musicnn was trained).
The PyTorch port of the network (``network``) runs the patches in batches on the device.

- static: mean and std over the patches of the ``layer`` embedding (``penultimate`` 200-d for
  musicnn, 256-d flattened pool5 for VGG; or ``max_pool`` / ``mean_pool``, 753-d) and of the
  taggram (50 tag probabilities): columns ``<layer>_<i>__mean`` …, ``<layer>_<i>__std`` …,
  ``tag_<tag>__mean`` …, ``tag_<tag>__std`` …
- frames: the same columns for each window of the grid (``features.grid``), over the patches
  that overlap the window (unweighted; a window inside one patch has std 0).

A long signal (``extract_long``) is resampled, turned into mel rows and cut into patches block by
block (``resampled_blocks``, ``mel_power_blocks``), the patches going through the network in the
same batches as in memory: the values are identical, and memory holds a few batches of patches
instead of the whole spectrogram.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from moodflow.core.config import setting
from moodflow.core.device import resolve_device
from moodflow.core.resample import resample
from moodflow.features import EXTRACTORS
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.features.musicnn.checkpoint import MODELS, PACKAGE, PACKAGE_VERSION, PackagedCheckpoint
from moodflow.features.musicnn.tags import column_name, labels
from moodflow.stores.grid import GridConfig, frame_grid
from moodflow.stores.signal import BLOCK_S, Signal, resampled_blocks, resampled_length

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FFT_SIZE = 512
FFT_HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
LAYERS = {"musicnn": ("penultimate", "max_pool", "mean_pool"), "vgg": ("penultimate",)}


@dataclass
class MusicnnConfig:
    """``features.musicnn`` in params.yaml."""

    model: str = setting("MSD_musicnn", choices=MODELS)  # packaged musicnn weights
    layer: str = setting("penultimate", choices=("penultimate", "max_pool", "mean_pool"))  # the embedding layer stored
    patch_hop_s: float | None = setting(None, gt=0.0)  # None: non-overlapping patches (the reference)
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    batch_size: int = setting(32, min=1)  # patches per forward pass
    threads: int = setting(0, min=0)  # torch CPU threads; 0 = torch's default


@dataclass
class Patches:
    """Per-patch outputs of one track: times (P,) in the song's clock, taggram (P, 50), embedding (P, D)."""

    start_s: np.ndarray
    end_s: np.ndarray
    taggram: np.ndarray
    embedding: np.ndarray


def log_mel(y16: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 ``log10(10000·mel + 1)`` of a 16 kHz signal (musicnn's input, in float32;
    the mel spectrogram bit-identical to librosa's, see ``melspec``)."""
    from moodflow.features.musicnn.melspec import mel_power

    return np.log10(np.float32(10000) * mel_power(y16) + np.float32(1)).astype(np.float32)


def patch_hop_frames(patch_hop_s: float | None) -> int:
    """The patch hop in frames, as ``musicnn.extractor`` converts ``input_overlap`` seconds."""
    if patch_hop_s is None:
        return PATCH_FRAMES
    return max(1, int(np.floor((patch_hop_s * SAMPLE_RATE - FFT_SIZE // 2) / FFT_HOP)))


def patch_starts(n_frames: int, hop: int) -> list[int]:
    """First frame of each patch: the reference's ``range(0, n - 187 + 1, hop)``, plus one patch
    ending at the last frame when those leave frames uncovered (none for a short track: padded)."""
    starts = list(range(0, n_frames - PATCH_FRAMES + 1, hop))
    if not starts:
        return [0]
    if starts[-1] + PATCH_FRAMES < n_frames:
        starts.append(n_frames - PATCH_FRAMES)
    return starts


def cut_patches(mel: np.ndarray, starts: list[int]) -> np.ndarray:
    """(P, 187, 96) patches; a spectrogram shorter than one patch is repeated to fill it."""
    if len(mel) < PATCH_FRAMES:
        mel = np.tile(mel, (int(np.ceil(PATCH_FRAMES / len(mel))), 1))[:PATCH_FRAMES]
    return np.stack([mel[s:s + PATCH_FRAMES] for s in starts]).astype(np.float32)


@EXTRACTORS.register
class MusicnnExtractor(Extractor):
    """musicnn / VGG tagger embeddings and taggram: mean/std per track (static) and per window."""

    name: ClassVar[str] = "musicnn"
    packages: ClassVar[tuple[str, ...]] = ("musicnn", "librosa", "torch")
    native_sample_rate: ClassVar[int] = SAMPLE_RATE
    hear_default: ClassVar[bool] = True  # hear.load_model() without a name
    version: ClassVar[str] = "1"
    Config: ClassVar[type] = MusicnnConfig
    parallel: ClassVar[str] = "none"

    def __init__(self, config: dict[str, Any] | None = None, grid: GridConfig | None = None):
        super().__init__(config, grid)
        c = self.config
        family = "vgg" if c.model.endswith("_vgg") else "musicnn"
        if c.layer not in LAYERS[family]:
            raise ValueError(f"features.musicnn.layer: {c.layer!r} is not a layer of {c.model} "
                             f"(valid: {', '.join(LAYERS[family])})")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(c.device)):
            raise ValueError(f"features.musicnn.device: {c.device!r} is not one of auto, cpu, cuda, cuda:N")
        self._net: Any = None
        self._device: str | None = None
        self._checkpoint: PackagedCheckpoint | None = None
        self._labels: list[str] | None = None

    # -- model ------------------------------------------------------------------------------
    @property
    def tags(self) -> list[str]:
        """The model's 50 tags, in taggram order."""
        if self._labels is None:
            self._labels = labels(self.config.model)
        return self._labels

    @property
    def checkpoint(self) -> PackagedCheckpoint:
        """The packaged checkpoint (located and hash-checked once)."""
        if self._checkpoint is None:
            from moodflow.features.musicnn.checkpoint import locate

            self._checkpoint = locate(self.config.model)
        return self._checkpoint

    def load(self) -> Any:
        """The network on its device, built from the packaged weights (once)."""
        if self._net is None:
            import torch

            from moodflow.features.musicnn.checkpoint import read_bundle
            from moodflow.features.musicnn.network import build_network

            if self.config.threads:
                torch.set_num_threads(int(self.config.threads))
            ckpt = self.checkpoint
            self._device = resolve_device(self.config.device, f"features.{self.name}.device")
            self._net = build_network(self.config.model, read_bundle(ckpt.index_path, ckpt.data_path)).to(self._device)
            log.info("musicnn %s loaded on %s", self.config.model, self._device)
        return self._net

    def config_dict(self) -> dict[str, Any]:
        out = super().config_dict()
        out["checkpoint"] = {"package": f"{PACKAGE}=={PACKAGE_VERSION}", "model": self.config.model,
                             "sha256": self.checkpoint.sha256}
        return out

    # -- names ------------------------------------------------------------------------------
    @property
    def embedding_dim(self) -> int:
        if self.config.model.endswith("_vgg"):
            return 256
        return 200 if self.config.layer == "penultimate" else 753

    def feature_names(self) -> list[str]:
        layer, dim = self.config.layer, self.embedding_dim
        tags = [column_name(t) for t in self.tags]
        return ([f"{layer}_{i:03d}__mean" for i in range(dim)] + [f"{layer}_{i:03d}__std" for i in range(dim)]
                + [f"tag_{t}__mean" for t in tags] + [f"tag_{t}__std" for t in tags])

    def frame_names(self) -> list[str]:
        return self.feature_names()

    # -- extraction -------------------------------------------------------------------------
    def patches(self, y: np.ndarray, sample_rate: int) -> Patches:
        """Taggram and ``layer`` embedding of every 3 s patch of a mono signal."""
        import torch

        if len(y) == 0:
            raise ValueError("empty signal: musicnn needs at least one frame of audio")
        y16 = resample(y, sample_rate, SAMPLE_RATE)
        mel = log_mel(y16)
        starts = patch_starts(len(mel), patch_hop_frames(self.config.patch_hop_s))
        x = cut_patches(mel, starts)
        net = self.load()
        tag_rows, emb_rows = [], []
        bs = int(self.config.batch_size)
        with torch.inference_mode():
            for i in range(0, len(x), bs):
                out = net(torch.from_numpy(x[i:i + bs]).to(self._device))
                tag_rows.append(out["taggram"].float().cpu().numpy())
                emb_rows.append(out[self.config.layer].float().cpu().numpy())
        duration = len(y16) / SAMPLE_RATE
        start = np.asarray(starts, dtype=np.float64) * FFT_HOP / SAMPLE_RATE
        end = np.minimum(start + PATCH_FRAMES * FFT_HOP / SAMPLE_RATE, max(duration, start[-1]))
        return Patches(start, end, np.concatenate(tag_rows), np.concatenate(emb_rows))

    def patches_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> Patches:
        """:meth:`patches` of a signal read block by block: the same patches in the same batches."""
        import torch

        from moodflow.features.musicnn.melspec import mel_power_blocks

        n16 = resampled_length(signal.n_samples, signal.sample_rate, SAMPLE_RATE)
        n_frames = 1 + n16 // FFT_HOP
        if n_frames < PATCH_FRAMES:  # shorter than one patch: padded in memory, as :meth:`patches` does
            return self.patches(signal.read(), signal.sample_rate)
        starts = patch_starts(n_frames, patch_hop_frames(self.config.patch_hop_s))
        net = self.load()
        bs = int(self.config.batch_size)
        y16 = resampled_blocks(signal, SAMPLE_RATE, int(block_s * SAMPLE_RATE))
        mel_rows = mel_power_blocks(y16, n16)
        held: list[np.ndarray] = []  # log-mel rows from frame `first` on
        first = have = 0
        tag_rows, emb_rows = [], []
        with torch.inference_mode():
            for i in range(0, len(starts), bs):
                batch = starts[i:i + bs]
                while have < batch[-1] + PATCH_FRAMES:
                    rows = next(mel_rows)
                    held.append(np.log10(np.float32(10000) * rows + np.float32(1)).astype(np.float32))
                    have += len(rows)
                mel = np.concatenate(held) if len(held) > 1 else held[0]
                x = np.stack([mel[s - first:s - first + PATCH_FRAMES] for s in batch]).astype(np.float32)
                out = net(torch.from_numpy(x).to(self._device))
                tag_rows.append(out["taggram"].float().cpu().numpy())
                emb_rows.append(out[self.config.layer].float().cpu().numpy())
                nxt = starts[i + bs] if i + bs < len(starts) else have
                held, first = [mel[nxt - first:]], nxt
        for _ in mel_rows:  # the rest of the stream (checks its length)
            pass
        duration = n16 / SAMPLE_RATE
        start = np.asarray(starts, dtype=np.float64) * FFT_HOP / SAMPLE_RATE
        end = np.minimum(start + PATCH_FRAMES * FFT_HOP / SAMPLE_RATE, max(duration, start[-1]))
        return Patches(start, end, np.concatenate(tag_rows), np.concatenate(emb_rows))

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        return self.summarise(self.patches(y, sample_rate), len(y) / sample_rate)

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """:meth:`extract`'s values, the signal read block by block (:meth:`patches_long`)."""
        return self.summarise(self.patches_long(signal, block_s=block_s), signal.duration_s)

    def summarise(self, p: Patches, duration_s: float) -> TrackFeatures:
        """Static and grid features of a track's patches."""
        values = np.concatenate([p.embedding, p.taggram], axis=1).astype(np.float64)
        static = _mean_std(values)
        start, end = frame_grid(duration_s, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        frames = np.empty((len(start), static.size), dtype=np.float32)
        for k, (a, b) in enumerate(zip(start, end)):
            hit = (p.start_s < b) & (p.end_s > a)
            if not hit.any():  # cannot happen with patches covering the track; nearest patch otherwise
                hit = np.zeros(len(p.start_s), bool)
                hit[int(np.argmin(np.abs((p.start_s + p.end_s) / 2 - (a + b) / 2)))] = True
            frames[k] = _mean_std(values[hit])
        return TrackFeatures(static=static.astype(np.float32), frames=frames, start_s=start, end_s=end)


def _mean_std(values: np.ndarray) -> np.ndarray:
    """Embedding means, embedding stds, tag means, tag stds (the column order of the names)."""
    n_tags = 50
    emb, tags = values[:, :-n_tags], values[:, -n_tags:]
    return np.concatenate([emb.mean(0), emb.std(0), tags.mean(0), tags.std(0)])
