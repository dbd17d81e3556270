"""Loading MERT into a stock ``transformers.HubertModel`` — no remote code.

MERT-v1 checkpoints with ``feature_extractor_cqt: false`` and ``deepnorm: false`` (both public
v1 checkpoints) are HuBERT: their ``config.json`` translates key for key into a
``HubertConfig`` (see ``docs/mert.md``). Files are looked up in the local cache first, so a
cached or local checkpoint never touches the network, and offline mode (``HF_HUB_OFFLINE=1``)
fails fast with instructions instead of hanging.
"""

from __future__ import annotations

import inspect
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

DEFAULT_MODEL = "m-a-p/MERT-v1-95M"
# The hub commit of m-a-p/MERT-v1-95M that public MERT users pin (config, processor, weights).
DEFAULT_REVISION = "12af15fef9d0ac838c3f475bfbbf26d2060dd4f5"
MERT_SAMPLE_RATE = 24000
# relative error of a reduced-precision positional convolution that counts as broken
POSITIONAL_CONV_TOL = 2e-2

_WEIGHT_FILES = ("pytorch_model.bin", "model.safetensors")
_LOCAL_WEIGHTS = _WEIGHT_FILES + ("pytorch_model.bin.index.json", "model.safetensors.index.json")
_REQUIRED_KEYS = (
    "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "conv_dim", "conv_stride", "conv_kernel",
)
# Keys HubertConfig accepts but that must not come from the checkpoint's file.
_NOT_COPIED = {"self", "transformers_version", "architectures", "dtype", "return_dict",
               "output_hidden_states"}


class MertWeightsMissing(FileNotFoundError):
    """The checkpoint (config, processor or weights) is not available on this machine."""


class MertUnsupported(ValueError):
    """A checkpoint that is not MERT-v1 / HuBERT-compatible (CQT front end, DeepNorm, …)."""


@dataclass
class MertHeader:
    """What a checkpoint's JSON files say, read without loading any weights."""

    directory: Path
    hubert_config: Any  # transformers.HubertConfig
    processor: Any  # transformers.Wav2Vec2FeatureExtractor
    dropped_keys: list[str]

    @property
    def n_states(self) -> int:
        """Hidden states returned with ``output_hidden_states``: the embedding + every layer."""
        return int(self.hubert_config.num_hidden_layers) + 1

    @property
    def hidden_size(self) -> int:
        return int(self.hubert_config.hidden_size)

    def provenance(self) -> dict[str, Any]:
        """The checkpoint facts that shape the output, for the store's ``config``."""
        c = self.hubert_config
        return {
            "architecture": "HubertModel",
            "hidden_size": int(c.hidden_size),
            "num_hidden_layers": int(c.num_hidden_layers),
            "do_stable_layer_norm": bool(c.do_stable_layer_norm),
            "sampling_rate": int(self.processor.sampling_rate),
            "do_normalize": bool(self.processor.do_normalize),
        }


def how_to_get(model: str, revision: str | None) -> str:
    """Instructions for putting the weights on an offline machine."""
    rev = f" --revision {revision}" if revision else ""
    hub_id = model if _looks_like_hub_id(model) else DEFAULT_MODEL
    return (
        "To get them: on a machine with network run\n"
        f"    hf download {hub_id}{rev} --local-dir <DIR>\n"
        f"(older huggingface_hub: huggingface-cli download {hub_id}{rev} --local-dir <DIR>),\n"
        "copy <DIR> here and set `features.mert.model: <DIR>` in params.yaml; "
        "or remove `mert` from `features.sets`."
    )


def hub_offline() -> bool:
    """True when the Hugging Face hub must not be contacted (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    try:
        from huggingface_hub import constants

        return bool(constants.is_offline_mode())
    except (ImportError, AttributeError):
        return False


def _looks_like_hub_id(model: str) -> bool:
    parts = model.split("/")
    return (
        len(parts) == 2 and all(parts) and not model.startswith((".", "~"))
        and not Path(model).expanduser().exists()
    )


def _hub_file(model: str, revision: str | None, filename: str) -> Path:
    """A file of hub repo ``model``: the cache first, the network only when allowed."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(model, filename, revision=revision, local_files_only=True))
    except Exception as cached_miss:  # noqa: BLE001 - any cache miss falls through to the hub
        if hub_offline():
            raise MertWeightsMissing(
                f"MERT checkpoint {model!r} (revision {revision}): {filename} is not in the local "
                f"Hugging Face cache and the hub is offline (HF_HUB_OFFLINE). {how_to_get(model, revision)}"
            ) from cached_miss
    try:
        return Path(hf_hub_download(model, filename, revision=revision))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo/revision/file
        raise MertWeightsMissing(
            f"MERT checkpoint {model!r} (revision {revision}): cannot get {filename} "
            f"({type(exc).__name__}: {exc}). {how_to_get(model, revision)}"
        ) from exc


def checkpoint_dir(model: str, revision: str | None, *, weights: bool) -> Path:
    """The local directory that holds ``model``'s files (downloading them when allowed).

    ``weights=False`` fetches only ``config.json`` and ``preprocessor_config.json``.
    Raises :class:`MertWeightsMissing` with instructions when something is not available.
    """
    if not _looks_like_hub_id(model):
        directory = Path(model).expanduser()
        if not directory.is_dir():
            raise MertWeightsMissing(
                f"features.mert.model: {directory} is not a directory (expected a local MERT "
                f"checkpoint or a hub id such as {DEFAULT_MODEL}). {how_to_get(model, revision)}"
            )
        for name in ("config.json", "preprocessor_config.json"):
            if not (directory / name).is_file():
                raise MertWeightsMissing(f"{directory / name}: missing. {how_to_get(model, revision)}")
        if weights and not any((directory / n).is_file() for n in _LOCAL_WEIGHTS):
            raise MertWeightsMissing(
                f"{directory}: no weights ({' or '.join(_WEIGHT_FILES)}). {how_to_get(model, revision)}"
            )
        return directory
    config_path = _hub_file(model, revision, "config.json")
    _hub_file(model, revision, "preprocessor_config.json")
    if weights:
        errors = []
        for name in _WEIGHT_FILES:
            try:
                _hub_file(model, revision, name)
                break
            except MertWeightsMissing as exc:
                errors.append(exc)
        else:
            raise errors[0]
    return config_path.parent


def translate_config(mert: dict[str, Any], source: str | Path = "config.json") -> tuple[Any, list[str]]:
    """A ``HubertConfig`` from MERT's ``config.json`` dict, and the keys that were dropped.

    Refuses checkpoints whose MERT-only features (CQT front end, DeepNorm) HuBERT lacks.
    """
    from transformers import HubertConfig

    model_type = mert.get("model_type")
    if model_type not in ("mert_model", "hubert"):
        raise MertUnsupported(f"{source}: model_type {model_type!r} is not a MERT checkpoint (mert_model)")
    for flag, what in (("feature_extractor_cqt", "a CQT front end"), ("deepnorm", "DeepNorm residuals")):
        if mert.get(flag, False):
            raise MertUnsupported(
                f"{source}: {flag}: true — this MERT checkpoint uses {what}, which a stock "
                "HubertModel cannot run; only MERT-v1 checkpoints with feature_extractor_cqt "
                "and deepnorm false (m-a-p/MERT-v1-95M, m-a-p/MERT-v1-330M) are supported"
            )
    sample_rate = mert.get("sample_rate", MERT_SAMPLE_RATE)
    if int(sample_rate) != MERT_SAMPLE_RATE:
        raise MertUnsupported(f"{source}: sample_rate {sample_rate}, expected {MERT_SAMPLE_RATE}")
    missing = [k for k in _REQUIRED_KEYS if k not in mert]
    if missing:
        raise MertUnsupported(f"{source}: missing key(s) {missing}")
    known = set(inspect.signature(HubertConfig.__init__).parameters) - _NOT_COPIED
    kept = {k: v for k, v in mert.items() if k in known}
    return HubertConfig(**kept), sorted(set(mert) - set(kept))


def read_header(model: str, revision: str | None, *, require_weights: bool = True) -> MertHeader:
    """Read and check a checkpoint's config and processor (no weights are read).

    ``require_weights`` also checks that the weights file is there (fetching it when allowed),
    so that a missing download stops a run before its first track.
    """
    from transformers import Wav2Vec2FeatureExtractor

    directory = checkpoint_dir(model, revision, weights=False)
    config_path = directory / "config.json"
    try:
        mert = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MertUnsupported(f"{config_path}: cannot read ({exc})") from exc
    hubert_config, dropped = translate_config(mert, config_path)
    processor = Wav2Vec2FeatureExtractor.from_pretrained(str(directory), local_files_only=True)
    if int(processor.sampling_rate) != MERT_SAMPLE_RATE:
        raise MertUnsupported(
            f"{directory / 'preprocessor_config.json'}: sampling_rate {processor.sampling_rate}, "
            f"expected {MERT_SAMPLE_RATE}"
        )
    if require_weights:
        checkpoint_dir(model, revision, weights=True)
    return MertHeader(directory, hubert_config, processor, dropped)


@contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_model(header: MertHeader, model: str, revision: str | None, *, dtype: Any, device: Any,
               loading_info: bool = False) -> Any:
    """Load the weights into a stock ``HubertModel`` (eval mode) on ``device`` in ``dtype``.

    With ``loading_info=True`` returns ``(model, info)`` where ``info`` lists missing and
    unexpected keys; otherwise any missing or unexpected key is an error.
    """
    import torch
    from transformers import HubertModel
    from transformers.utils import logging as hf_logging

    directory = checkpoint_dir(model, revision, weights=True)
    progress = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with _env(DISABLE_SAFETENSORS_CONVERSION="1"):
            net, info = HubertModel.from_pretrained(
                str(directory), config=header.hubert_config, dtype=dtype,
                local_files_only=True, output_loading_info=True,
            )
    except OSError as exc:
        raise MertWeightsMissing(f"{directory}: cannot load the weights ({exc}). {how_to_get(model, revision)}") from exc
    finally:
        if progress:
            hf_logging.enable_progress_bar()
    bad = {k: sorted(info.get(k) or []) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if not loading_info and any(bad.values()):
        raise MertUnsupported(f"{directory}: weights do not match the translated HubertConfig: {bad}")
    net = net.to(device).eval()
    if dtype != torch.float32:
        check_positional_conv(net, directory)
    return (net, info) if loading_info else net


def positional_conv_error(net: Any, n_frames: int = 200, seed: int = 0) -> float:
    """Relative error of ``net``'s positional convolution in its dtype against float32.

    Some oneDNN builds compute bfloat16 grouped 1-D convolutions with few channels per group
    wrongly on CPU (relative error ~1); this measures it on random input.
    """
    import copy

    import torch

    conv = net.encoder.pos_conv_embed
    param = next(conv.parameters())
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n_frames, net.config.hidden_size, generator=gen).to(param.device)
    with torch.inference_mode():
        ref = copy.deepcopy(conv).float()(x.to(param.dtype).float())
        out = conv(x.to(param.dtype)).float()
    return float(torch.linalg.norm(out - ref) / torch.linalg.norm(ref))


def check_positional_conv(net: Any, source: str | Path, tol: float = POSITIONAL_CONV_TOL) -> None:
    """Refuse a reduced-precision model whose positional convolution is wrong on this device."""
    err = positional_conv_error(net)
    if not err < tol:
        param = next(net.parameters())
        raise MertUnsupported(
            f"{source}: in {str(param.dtype).replace('torch.', '')} on {param.device} the positional "
            f"convolution is wrong (relative error {err:.2f} against float32, a known oneDNN "
            "grouped-convolution problem for some shapes); use features.mert.dtype: float32"
        )
