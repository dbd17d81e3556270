"""Write a tiny random checkpoint in MERT's own on-disk format, for tests.

The layout is what the hub's ``m-a-p/MERT-v1-95M`` ships: a ``config.json`` with
``model_type: mert_model``, ``architectures: [MERTModel]``, an ``auto_map`` to remote code and
MERT's extra keys; a ``preprocessor_config.json`` for ``Wav2Vec2FeatureExtractor``; and the
weights as ``pytorch_model.bin`` whose positional convolution uses the legacy weight-norm keys
``encoder.pos_conv_embed.conv.weight_g`` / ``weight_v``. Only the sizes are shrunk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_SIZES: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [16, 16, 16, 16, 16, 16, 16],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
}


def mert_config(**overrides: Any) -> dict[str, Any]:
    """A MERT-format ``config.json`` dict (95M's keys and values, tiny sizes), with overrides."""
    cfg: dict[str, Any] = {
        "_name_or_path": "m-a-p/MERT-v1-95M",
        "activation_dropout": 0.1,
        "apply_spec_augment": True,
        "architectures": ["MERTModel"],
        "attention_dropout": 0.1,
        "attention_relax": -1.0,
        "auto_map": {
            "AutoConfig": "configuration_MERT.MERTConfig",
            "AutoModel": "modeling_MERT.MERTModel",
        },
        "bos_token_id": 1,
        "classifier_proj_size": 256,
        "conv_bias": False,
        "ctc_loss_reduction": "sum",
        "ctc_zero_infinity": False,
        "deepnorm": False,
        "do_stable_layer_norm": False,
        "eos_token_id": 2,
        "feat_extract_activation": "gelu",
        "feat_extract_norm": "group",
        "feat_proj_dropout": 0.0,
        "feat_proj_layer_norm": True,
        "feature_extractor_cqt": False,
        "feature_extractor_cqt_bins": 336,
        "final_dropout": 0.1,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout": 0.1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-05,
        "layerdrop": 0.1,
        "mask_feature_length": 10,
        "mask_feature_prob": 0.0,
        "mask_time_length": 10,
        "mask_time_prob": 0.05,
        "model_type": "mert_model",
        "num_feat_extract_layers": 7,
        "pad_token_id": 0,
        "sample_rate": 24000,
        "tokenizer_class": "Wav2Vec2CTCTokenizer",
        "torch_dtype": "float32",
        "transformers_version": "4.25.1",
        "use_weighted_layer_sum": False,
        "vocab_size": 32,
        **TINY_SIZES,
    }
    cfg.update(overrides)
    return cfg


def preprocessor_config(do_normalize: bool = True) -> dict[str, Any]:
    """MERT's ``preprocessor_config.json`` (24 kHz ``Wav2Vec2FeatureExtractor``)."""
    return {
        "do_normalize": do_normalize,
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "padding_side": "right",
        "padding_value": 0,
        "return_attention_mask": True,
        "sampling_rate": 24000,
    }


def random_state_dict(cfg: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Weights of a random ``HubertModel`` of ``cfg``'s shape, under MERT's legacy key names."""
    import torch
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(seed)
    keep = {k: cfg[k] for k in TINY_SIZES} | {
        k: cfg[k] for k in ("conv_bias", "feat_extract_norm", "feat_proj_layer_norm",
                            "do_stable_layer_norm", "layer_norm_eps")
    }
    model = HubertModel(HubertConfig(**keep)).eval()
    # Random init leaves the masked-spectrogram embedding and the norms at trivial values;
    # perturb everything so that a key loaded into the wrong place cannot go unnoticed.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    legacy = {}
    for key, value in model.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        legacy[key] = value.clone()
    return legacy


def write_tiny_mert(
    directory: str | Path,
    *,
    seed: int = 0,
    do_normalize: bool = True,
    weights: bool = True,
    **config_overrides: Any,
) -> Path:
    """Write a tiny MERT-format checkpoint into ``directory``; returns the directory.

    ``weights=False`` writes only the two JSON files (a download that lost its weights).
    """
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = mert_config(**config_overrides)
    (directory / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    (directory / "preprocessor_config.json").write_text(
        json.dumps(preprocessor_config(do_normalize), indent=2), encoding="utf-8"
    )
    if weights:
        torch.save(random_state_dict(cfg, seed), directory / "pytorch_model.bin")
    return directory


def tiny_extractor(checkpoint: Path, **settings: Any):
    """A CPU, one-thread ``MertExtractor`` on ``checkpoint``, ``settings`` on top."""
    from moodflow.features.mert.extractor import MertExtractor

    return MertExtractor({"model": str(checkpoint), "device": "cpu", "threads": 1, **settings})
