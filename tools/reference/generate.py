#!/usr/bin/env python3
"""Write Hugging Face-shaped model folders with seeded random weights, PyTorch's own outputs for them, and
(optionally) torch.onnx exports. See tools/reference/README.md for the layout and the JSON format.

    /usr/bin/python3 tools/reference/generate.py --out DIR [--models bert-bi,gte-doc,...] [--size small|real]
        [--dtype F32|F16|BF16] [--seed 1234] [--texts FILE] [--onnx-opsets 11,14,17] [--no-reference]

Needs Debian's python3-torch and python3-numpy (python3-onnx for --onnx-opsets). No network, no transformers.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import zlib
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import architectures  # noqa: E402
import safetensors_io  # noqa: E402
import splade  # noqa: E402

FORMAT = "neural-sparse-reference/1"
HUB_PREFIX = "opensearch-neural-sparse-encoding-"
DEFAULT_SHARED = HERE.parent.parent.parent / "shared" / "data" / "bert-base-uncased"
WEIGHT_STD = 0.3
SCRIPT_FILES = ("architectures.py", "generate.py", "safetensors_io.py", "splade.py", "texts.json")

# Shapes: (layers, hidden, heads, intermediate). Small shapes keep CI at seconds; the vocabulary stays real.
SMALL = (2, 32, 4, 64)
SHAPES = {"bert-base": (12, 768, 12, 3072), "minilm": (6, 384, 12, 1536), "distilbert": (6, 768, 12, 3072), "gte-base": (12, 768, 12, 3072)}

# name -> (architecture, mode, activation, real shape). The seven keep their hub repository names and layouts;
# the "<arch>-bi" / "<arch>-doc" pairs cover both modes and both activations for every architecture.
MODELS = {
    "bert-bi": ("bert", "bi-encoder", "log1p_relu", "bert-base"),
    "bert-doc": ("bert", "doc-only", "log1p_log1p_relu", "bert-base"),
    "distilbert-bi": ("distilbert", "bi-encoder", "log1p_relu", "distilbert"),
    "distilbert-doc": ("distilbert", "doc-only", "log1p_log1p_relu", "distilbert"),
    "gte-bi": ("gte", "bi-encoder", "log1p_relu", "gte-base"),
    "gte-doc": ("gte", "doc-only", "log1p_log1p_relu", "gte-base"),
    HUB_PREFIX + "v1": ("bert", "bi-encoder", "log1p_relu", "bert-base"),
    HUB_PREFIX + "doc-v1": ("bert", "doc-only", "log1p_relu", "bert-base"),
    HUB_PREFIX + "doc-v2-mini": ("bert", "doc-only", "log1p_relu", "minilm"),
    HUB_PREFIX + "v2-distill": ("distilbert", "bi-encoder", "log1p_relu", "distilbert"),
    HUB_PREFIX + "doc-v2-distill": ("distilbert", "doc-only", "log1p_relu", "distilbert"),
    HUB_PREFIX + "doc-v3-distill": ("distilbert", "doc-only", "log1p_log1p_relu", "distilbert"),
    HUB_PREFIX + "doc-v3-gte": ("gte", "doc-only", "log1p_log1p_relu", "gte-base"),
}
DEFAULT_MODELS = ("bert-bi", "bert-doc", "distilbert-bi", "distilbert-doc", "gte-bi", "gte-doc")
TRANSFORMERS_VERSION = "4.40.0"
BERT_VOCAB = 30522
GTE_VOCAB = 30528  # GTE-base checkpoints carry 6 rows more than the tokenizer; outputs are sliced to 30,522


def model_config(arch: str, shape: tuple, max_length: int | None) -> dict:
    layers, hidden, heads, ff = shape
    if arch == "bert":
        return {
            "architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "classifier_dropout": None,
            "gradient_checkpointing": False, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hidden,
            "initializer_range": 0.02, "intermediate_size": ff, "layer_norm_eps": 1e-12,
            "max_position_embeddings": max_length or 512, "model_type": "bert", "num_attention_heads": heads,
            "num_hidden_layers": layers, "pad_token_id": 0, "position_embedding_type": "absolute",
            "torch_dtype": "float32", "transformers_version": TRANSFORMERS_VERSION, "type_vocab_size": 2,
            "use_cache": True, "vocab_size": BERT_VOCAB,
        }
    if arch == "distilbert":
        return {
            "activation": "gelu", "architectures": ["DistilBertForMaskedLM"], "attention_dropout": 0.1, "dim": hidden,
            "dropout": 0.1, "hidden_dim": ff, "initializer_range": 0.02, "max_position_embeddings": max_length or 512,
            "model_type": "distilbert", "n_heads": heads, "n_layers": layers, "pad_token_id": 0, "qa_dropout": 0.1,
            "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True, "torch_dtype": "float32",
            "transformers_version": TRANSFORMERS_VERSION, "vocab_size": BERT_VOCAB,
        }
    if arch == "gte":
        # gte-base-en-v1.5's config (no rope_scaling, no token types), with the masked-LM architecture.
        return {
            "architectures": ["NewForMaskedLM"], "attention_probs_dropout_prob": 0.0,
            "auto_map": {
                "AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
                "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel",
                "AutoModelForMaskedLM": "Alibaba-NLP/new-impl--modeling.NewForMaskedLM",
            },
            "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hidden,
            "initializer_range": 0.02, "intermediate_size": ff, "layer_norm_eps": 1e-12, "layer_norm_type": "layer_norm",
            "logn_attention_clip1": False, "logn_attention_scale": False, "max_position_embeddings": max_length or 8192,
            "model_type": "new", "num_attention_heads": heads, "num_hidden_layers": layers, "pack_qkv": True,
            "pad_token_id": 0, "position_embedding_type": "rope", "rope_scaling": None, "rope_theta": 500000.0,
            "torch_dtype": "float32", "transformers_version": "4.39.1", "type_vocab_size": 0, "unpad_inputs": False,
            "use_memory_efficient_attention": False, "vocab_size": GTE_VOCAB,
        }
    raise ValueError(arch)


def hidden_size(config: dict) -> int:
    return config.get("hidden_size") or config["dim"]


def random_weights(model: torch.nn.Module, config: dict, seed: int) -> dict:
    """Seeded N(0, 0.3²) matrices and embeddings; LayerNorm γ ~ N(1, 0.2²), β ~ N(0, 0.2²); biases N(0, 0.3²).

    The MLM decoder bias is centred at -2.5 × the logits' spread (0.3·√hidden), so that, as with a trained SPLADE
    head, most vocabulary logits are negative and short texts give sparse outputs (long texts fill up).
    """
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    decoder_bias_mean = -2.5 * WEIGHT_STD * hidden_size(config) ** 0.5
    for name, parameter in model.named_parameters():
        noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
        layer_norm = "LayerNorm" in name or "layer_norm" in name or "_ln." in name or ".norm." in name
        if layer_norm and name.endswith("weight"):
            value = 1.0 + 0.2 * noise
        elif layer_norm:
            value = 0.2 * noise
        elif name in ("cls.predictions.bias", "vocab_projector.bias", "lm_head.decoder.bias"):
            value = decoder_bias_mean + WEIGHT_STD * noise
        else:
            value = WEIGHT_STD * noise
        tensors[name] = value
    return tensors


def script_sha256() -> str:
    digest = hashlib.sha256()
    for name in SCRIPT_FILES:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    return digest.hexdigest()


def load_vocab(tokenizer_dir: Path) -> list:
    return (tokenizer_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:BERT_VOCAB]


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------- hub folder
def write_tokenizer_files(folder: Path, tokenizer_dir: Path, arch: str, max_length: int) -> None:
    shutil.copyfile(tokenizer_dir / "tokenizer.json", folder / "tokenizer.json")
    shutil.copyfile(tokenizer_dir / "vocab.txt", folder / "vocab.txt")
    tokenizer_class = "BertTokenizer" if arch == "bert" else "DistilBertTokenizer"
    write_json(folder / "tokenizer_config.json", {
        "clean_up_tokenization_spaces": True, "cls_token": "[CLS]", "do_basic_tokenize": True, "do_lower_case": True,
        "mask_token": "[MASK]", "model_max_length": max_length, "never_split": None, "pad_token": "[PAD]",
        "sep_token": "[SEP]", "strip_accents": None, "tokenize_chinese_chars": True,
        "tokenizer_class": tokenizer_class, "unk_token": "[UNK]",
    })
    write_json(folder / "special_tokens_map.json", {
        "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]",
    })


def write_sentence_transformers_files(folder: Path, tokenizer_dir: Path, arch: str, mode: str, activation: str,
                                      max_length: int, vocab: list, idf: dict | None) -> None:
    """sentence-transformers' SparseEncoder packaging: MLMTransformer + SpladePooling for bi-encoders; a Router
    with query_0_SparseStaticEmbedding (idf weights) and document_1_SpladePooling for doc-only models."""
    st_version = {"sentence_transformers": "5.0.0", "transformers": TRANSFORMERS_VERSION, "pytorch": "2.7.0"}
    write_json(folder / "config_sentence_transformers.json", {
        "model_type": "SparseEncoder", "__version__": st_version, "prompts": {"query": "", "document": ""},
        "default_prompt_name": None, "similarity_fn_name": "dot",
    })
    pooling = {"pooling_strategy": "max", "activation_function": splade.ACTIVATIONS[activation], "word_embedding_dimension": BERT_VOCAB}
    mlm = "sentence_transformers.sparse_encoder.models.MLMTransformer"
    splade_type = "sentence_transformers.sparse_encoder.models.SpladePooling"
    if mode == "bi-encoder":
        write_json(folder / "modules.json", [
            {"idx": 0, "name": "0", "path": "", "type": mlm},
            {"idx": 1, "name": "1", "path": "1_SpladePooling", "type": splade_type},
        ])
        write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})
        write_json(folder / "1_SpladePooling" / "config.json", pooling)
        return
    write_json(folder / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Router"}])
    write_json(folder / "router_config.json", {
        "types": {
            "query_0_SparseStaticEmbedding": "sentence_transformers.sparse_encoder.models.SparseStaticEmbedding",
            "document_0_MLMTransformer": mlm,
            "document_1_SpladePooling": splade_type,
        },
        "structure": {"query": ["query_0_SparseStaticEmbedding"], "document": ["document_0_MLMTransformer", "document_1_SpladePooling"]},
        "parameters": {"default_route": "document", "allow_empty_key": True},
    })
    write_json(folder / "document_1_SpladePooling" / "config.json", pooling)
    query = folder / "query_0_SparseStaticEmbedding"
    query.mkdir(exist_ok=True)
    write_json(query / "config.json", {"frozen": False})
    static = torch.tensor([idf.get(token, 1.0) for token in vocab], dtype=torch.float32)
    safetensors_io.write(query / "model.safetensors", {"weight": static}, "F32", {"format": "pt"})
    write_tokenizer_files(query, tokenizer_dir, arch, max_length)
    shutil.copyfile(tokenizer_dir / "idf.json", folder / "idf.json")
    with open(folder / "query_token_weights.txt", "w", encoding="utf-8") as f:
        for token in vocab:
            if idf.get(token, 1.0) != 1.0:
                f.write(f"{token}\t{idf[token]}\n")


def write_hub_folder(folder: Path, name: str, config: dict, tensors: dict, dtype: str, tokenizer_dir: Path,
                     vocab: list, idf: dict, tied: str) -> None:
    arch, mode, activation, _ = MODELS[name]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_json(folder / "config.json", dict(config, torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]))
    stored = dict(tensors)
    if tied == "duplicate":
        model = architectures.ARCHITECTURES[config["architectures"][0]]
        for copy, source in model.tied.items():
            stored[copy] = tensors[source]
    safetensors_io.write(folder / "model.safetensors", stored, dtype, {"format": "pt"})
    max_length = architectures.max_positions(config)
    write_tokenizer_files(folder, tokenizer_dir, arch, max_length)
    write_sentence_transformers_files(folder, tokenizer_dir, arch, mode, activation, max_length, vocab,
                                      idf if mode == "doc-only" else None)


# ------------------------------------------------------------------------------------------------ reference run
def fed_ids(ids: list, max_length: int) -> list:
    """Hugging Face truncation (LongestFirst, right): [CLS] + the first max-2 tokens + [SEP]."""
    return ids if len(ids) <= max_length else ids[:max_length - 1] + [ids[-1]]


def sparse_pair(w32: torch.Tensor, w64: torch.Tensor) -> dict:
    keep = ((w32 > 0) | (w64 > 0)).nonzero().flatten().tolist()
    return {
        "token_ids": keep,
        "f32": [float(w32[i]) for i in keep],
        "f64": [float(w64[i]) for i in keep],
    }


def reference_outputs(config: dict, tensors: dict, texts: list, idf_by_id: dict, logits_texts: int) -> tuple:
    model32 = architectures.build(config)
    architectures.load_state(model32, tensors)
    model64 = architectures.build(config).double()
    architectures.load_state(model64, tensors)
    max_length = architectures.max_positions(config)
    token_types = architectures.takes_token_type_ids(config)
    entries, logits_dump = [], {}
    worst = {a: 0.0 for a in splade.ACTIVATIONS}
    with torch.no_grad():
        for index, text in enumerate(texts):
            ids = fed_ids(text["ids"], max_length)
            input_ids = torch.tensor([ids])
            mask = torch.ones_like(input_ids)
            extra = (torch.zeros_like(input_ids),) if token_types else ()
            logits32 = model32(input_ids, mask, *extra)
            logits64 = model64(input_ids, mask, *extra)
            if index < logits_texts:
                logits_dump[f"logits.{text['name']}"] = logits32[0]
            pooled32 = splade.pool_max(logits32, mask, BERT_VOCAB)[0]
            pooled64 = splade.pool_max(logits64, mask, BERT_VOCAB)[0]
            entry = {"name": text["name"], "text": text["text"], "ids": ids, "truncated_from": len(text["ids"]),
                     "document": {}, "f32_vs_f64_max_abs": {}}
            for activation in splade.ACTIVATIONS:
                w32 = splade.activate(pooled32, activation)
                w64 = splade.activate(pooled64, activation)
                error = float((w32.double() - w64).abs().max())
                worst[activation] = max(worst[activation], error)
                entry["document"][activation] = sparse_pair(w32, w64)
                entry["f32_vs_f64_max_abs"][activation] = error
            query = splade.idf_query(ids, idf_by_id)
            entry["idf_query"] = {"token_ids": list(query), "weights": list(query.values())}
            entries.append(entry)
        check_padding_invariance(model64, texts[:4], max_length, token_types)
    return entries, worst, logits_dump


def check_padding_invariance(model, texts: list, max_length: int, token_types: bool) -> None:
    """Sanity check of the modules' masking: a right-padded batch gives each text's unpadded logits."""
    rows = [fed_ids(t["ids"], max_length) for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    extra = (torch.zeros_like(ids),) if token_types else ()
    batched = model(ids, mask, *extra)
    for i, r in enumerate(rows):
        single = torch.tensor([r])
        alone = model(single, torch.ones_like(single), *((torch.zeros_like(single),) if token_types else ()))
        difference = float((batched[i, :len(r)] - alone[0]).abs().max())
        if difference > 1e-9:
            raise AssertionError(f"padded batch differs from the unpadded text by {difference}")


# ---------------------------------------------------------------------------------------------------- ONNX export
class _LogitsOnly(torch.nn.Module):
    def __init__(self, model, token_types):
        super().__init__()
        self.model, self.token_types = model, token_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.model(input_ids, attention_mask, token_type_ids if self.token_types else None)


def export_onnx(config: dict, tensors: dict, opset: int, path: Path) -> None:
    import onnx

    model = architectures.build(config)
    architectures.load_state(model, tensors)
    token_types = architectures.takes_token_type_ids(config)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    sample = (torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]]), torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]))
    if token_types:
        sample = sample + (torch.zeros(2, 4, dtype=torch.int64),)
    axes = {n: {0: "batch", 1: "sequence"} for n in names + ["logits"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(_LogitsOnly(model, token_types), sample, str(path), input_names=names, output_names=["logits"],
                      dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(path)))


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# ------------------------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output folder (created; existing folders replaced)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma list of {', '.join(MODELS)}")
    parser.add_argument("--size", choices=("small", "real"), default="small")
    parser.add_argument("--dtype", choices=("F32", "F16", "BF16"), default="F32", help="storage dtype of model.safetensors")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--texts", type=Path, default=HERE / "texts.json", help="texts with token ids (see README)")
    parser.add_argument("--tokenizer-dir", type=Path, default=DEFAULT_SHARED, help="holds vocab.txt, tokenizer.json, idf.json")
    parser.add_argument("--onnx-opsets", default="", help="e.g. 11,14,17: export BERT/DistilBERT folders with torch.onnx")
    parser.add_argument("--tied", choices=("omit", "duplicate"), default="omit",
                        help="tied decoder weight: omitted as save_pretrained writes it, or stored as a duplicate")
    parser.add_argument("--max-length", type=int, default=None, help="override max_position_embeddings")
    parser.add_argument("--no-reference", action="store_true", help="skip the PyTorch outputs (benchmark folders)")
    parser.add_argument("--logits-texts", type=int, default=3, help="how many texts get raw logits saved")
    args = parser.parse_args()

    started = time.time()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(MODELS)}")
    opsets = [int(o) for o in args.onnx_opsets.split(",") if o]
    texts = json.loads(args.texts.read_text(encoding="utf-8"))
    if any("ids" not in t for t in texts["texts"]):
        parser.error(f"{args.texts}: every text needs 'ids' (see README: record_hf_ids.py)")
    vocab = load_vocab(args.tokenizer_dir)
    idf = json.loads((args.tokenizer_dir / "idf.json").read_text(encoding="utf-8"))
    idf_by_id = {i: idf[token] for i, token in enumerate(vocab) if token in idf}
    args.out.mkdir(parents=True, exist_ok=True)

    index = {"format": FORMAT, "script_sha256": script_sha256(), "torch": torch.__version__, "size": args.size,
             "dtype": args.dtype, "seed": args.seed, "ids_source": texts.get("ids_source"), "folders": [], "onnx": []}
    cache = {}  # (arch, shape) -> (config, tensors, reference): bi/doc folders of one architecture share weights
    for name in names:
        arch, mode, activation, real_shape = MODELS[name]
        shape = SMALL if args.size == "small" else SHAPES[real_shape]
        key = (arch, shape)
        if key not in cache:
            config = model_config(arch, shape, args.max_length)
            module = architectures.build(config)
            seed = args.seed + zlib.crc32(f"{arch}:{shape}".encode())
            tensors = {k: safetensors_io.round_to(v, args.dtype) for k, v in random_weights(module, config, seed).items()}
            reference = None if args.no_reference else reference_outputs(config, tensors, texts["texts"], idf_by_id, args.logits_texts)
            cache[key] = (config, tensors, reference)
        config, tensors, reference = cache[key]
        folder = args.out / name
        write_hub_folder(folder, name, config, tensors, args.dtype, args.tokenizer_dir, vocab, idf, args.tied)
        entry = {"name": name, "path": name, "architecture": config["architectures"][0], "model_type": config["model_type"],
                 "mode": mode, "activation": activation, "max_length": architectures.max_positions(config),
                 "takes_token_type_ids": architectures.takes_token_type_ids(config), "reference": None}
        if reference is not None:
            entries, worst, logits = reference
            entry["reference"] = f"{name}.reference.json"
            write_json(args.out / entry["reference"], {
                "format": FORMAT, "model": name, "architecture": entry["architecture"], "mode": mode,
                "activation": activation, "vocab_size": BERT_VOCAB, "logit_columns": config["vocab_size"],
                "max_length": entry["max_length"], "special_token_ids": list(architectures.SPECIAL_TOKEN_IDS),
                "weights_dtype": args.dtype, "torch": torch.__version__, "ids_source": texts.get("ids_source"),
                "f32_vs_f64_max_abs": worst, "texts": entries,
            })
            if logits:
                entry["logits"] = f"{name}.logits.safetensors"
                safetensors_io.write(args.out / entry["logits"], logits, "F32")
        index["folders"].append(entry)

        if opsets and arch in ("bert", "distilbert"):
            for opset in opsets:
                graph = args.out / "onnx" / f".{arch}-{args.size}-opset{opset}.onnx"
                if not graph.exists():
                    export_onnx(config, tensors, opset, graph)
                directory = args.out / "onnx" / f"{name}-opset{opset}"
                if directory.exists():
                    shutil.rmtree(directory)
                directory.mkdir(parents=True)
                link_or_copy(graph, directory / "model.onnx")
                shutil.copyfile(args.tokenizer_dir / "tokenizer.json", directory / "tokenizer.json")
                if mode == "doc-only":
                    shutil.copyfile(args.tokenizer_dir / "idf.json", directory / "idf.json")
                write_json(directory / "neural-sparse.json", {
                    "name": f"{name}-opset{opset}", "mode": mode, "activation": activation, "maxLength": entry["max_length"],
                    "synthetic": True, "description": f"torch.onnx.export (opset {opset}) of the seeded random {name} weights",
                })
                index["onnx"].append({"name": f"{name}-opset{opset}", "path": f"onnx/{name}-opset{opset}", "opset": opset,
                                      "folder": name, "reference": entry["reference"]})
    index["seconds"] = round(time.time() - started, 1)
    write_json(args.out / "index.json", index)
    print(f"wrote {len(index['folders'])} folders, {len(index['onnx'])} ONNX directories to {args.out} in {index['seconds']} s")


if __name__ == "__main__":
    main()
