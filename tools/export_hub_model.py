#!/usr/bin/env python3
"""Export an OpenSearch neural sparse model from the Hugging Face hub into a sidecar model directory.

    pip install torch transformers huggingface_hub
    python tools/export_hub_model.py opensearch-project/opensearch-neural-sparse-encoding-doc-v2-mini ./models/doc-v2-mini

Writes model.onnx (max-pooling and the activation already inside the graph: the output is
sparse_weights [batch, vocab]), tokenizer.json, idf.json (doc-only models) and neural-sparse.json.

This script needs hub and PyPI access. The machines this project is built on have neither, so it was NOT run
here: the sidecar's own pipeline is proven on generated models against an independent reference instead.
Check an export by encoding a few texts and comparing with the model card's example.
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from huggingface_hub import hf_hub_download
from transformers import AutoModelForMaskedLM, AutoTokenizer

# doc-v3-gte needs the GTE remote code at the revision its model card pins.
GTE_CODE_REVISION = "40ced75c3017eb27626c9d4ea981bde21a2662f4"
DOUBLE_LOG = ("doc-v3-distill", "doc-v3-gte")
SPECIAL_IDS = (0, 100, 101, 102, 103)


class PooledSparseEncoder(torch.nn.Module):
    """logits -> max over the sequence of logits*mask -> log(1+relu), twice for the v3 models."""

    def __init__(self, mlm, vocab_size, double_log, takes_token_types):
        super().__init__()
        self.mlm, self.vocab_size, self.double_log, self.takes_token_types = mlm, vocab_size, double_log, takes_token_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.takes_token_types:
            kwargs["token_type_ids"] = token_type_ids
        logits = self.mlm(**kwargs).logits[..., : self.vocab_size]  # GTE can emit a few extra columns
        pooled = torch.max(logits * attention_mask.unsqueeze(-1).to(logits.dtype), dim=1).values
        weights = torch.log(1 + torch.relu(pooled))
        return torch.log(1 + weights) if self.double_log else weights


def main(hub_name: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    short = hub_name.rsplit("encoding-", 1)[-1]
    is_gte = short == "doc-v3-gte"
    extra = {"trust_remote_code": True, "code_revision": GTE_CODE_REVISION} if is_gte else {}

    tokenizer = AutoTokenizer.from_pretrained(hub_name)
    mlm = AutoModelForMaskedLM.from_pretrained(hub_name, attn_implementation="eager", **extra).eval()
    takes_token_types = mlm.config.model_type == "bert"
    module = PooledSparseEncoder(mlm, len(tokenizer.vocab), short in DOUBLE_LOG, takes_token_types)

    sample = tokenizer(["export sample"], return_tensors="pt", return_token_type_ids=takes_token_types)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_token_types else [])
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"sparse_weights": {0: "batch"}}
    torch.onnx.export(module, tuple(sample[n] for n in names), out / "model.onnx", input_names=names,
                      output_names=["sparse_weights"], dynamic_axes=axes, opset_version=17, dynamo=False)

    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    manifest = {"preset": short}
    try:
        shutil.copyfile(hf_hub_download(hub_name, "idf.json"), out / "idf.json")
    except Exception:  # bi-encoders ship no idf.json; doc-only models must
        if short.startswith("doc-"):
            raise
    (out / "neural-sparse.json").write_text(json.dumps(manifest, indent=2))
    print(f"Wrote {out}: model.onnx, tokenizer.json, neural-sparse.json" + (", idf.json" if (out / "idf.json").exists() else ""))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
