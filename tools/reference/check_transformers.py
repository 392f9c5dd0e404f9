#!/usr/bin/env python3
"""Check the reference against the real Hugging Face stack (transformers, tokenizers, safetensors,
sentence-transformers), once, on a machine that has them. No network: everything is loaded from local folders.

    python3 tools/reference/check_transformers.py GENERATED_DIR [GENERATED_DIR ...] [--device cpu|cuda] [--no-st]

GENERATED_DIR is a generate.py output (index.json beside the folders). For every BERT and DistilBERT folder:
  1. transformers' AutoModelForMaskedLM loads the folder (our safetensors writer, config.json, tied weights) with
     no missing or unexpected keys;
  2. float64: transformers' logits equal our module's on the same weights, and pooled weights equal the reference's
     f64 (computed by Debian's torch 1.13 where the generator ran);
  3. float32: transformers' logits and pooled weights against the saved float32 reference (reported beside
     PyTorch's own float32-vs-float64 error);
  4. `tokenizers` (Rust) ids for every text equal texts.json's, and AutoTokenizer with the folder's
     tokenizer_config truncates to the reference's fed ids;
  5. (unless --no-st) sentence-transformers' SparseEncoder loads the folder layout and its document (and doc-only
     query) encodings match the reference (specials excluded: ST does not zero them).
GTE (NewForMaskedLM) folders are skipped: transformers needs Alibaba's remote code for them.
Prints one line per check and a summary; exits 1 if any check failed.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import architectures  # noqa: E402
import safetensors_io  # noqa: E402
import splade  # noqa: E402

RESULTS = []


def report(ok: bool, what: str, detail: str) -> None:
    RESULTS.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {what:58s} {detail}", flush=True)


def dense(entry: dict, precision: str, vocab: int) -> torch.Tensor:
    out = torch.zeros(vocab, dtype=torch.float64)
    out[entry["token_ids"]] = torch.tensor(entry[precision], dtype=torch.float64)
    return out


def forward(model, ids, token_types: bool):
    input_ids = torch.tensor([ids], device=model.device)
    mask = torch.ones_like(input_ids)
    kwargs = {"input_ids": input_ids, "attention_mask": mask}
    if token_types:
        kwargs["token_type_ids"] = torch.zeros_like(input_ids)
    with torch.no_grad():
        return model(**kwargs).logits.cpu(), mask.cpu()


def check_folder(root: Path, entry: dict, texts: dict, device: str, use_st: bool) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    name, folder = entry["name"], root / entry["path"]
    reference = json.loads((root / entry["reference"]).read_text(encoding="utf-8"))
    vocab, token_types = reference["vocab_size"], entry["takes_token_type_ids"]

    model, info = AutoModelForMaskedLM.from_pretrained(folder, local_files_only=True, attn_implementation="eager",
                                                       dtype=torch.float32, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    report(not problems and type(model).__name__ == entry["architecture"], f"{name}: transformers loads the folder",
           f"{type(model).__name__} {problems or 'no missing/unexpected keys'}")

    # float64: transformers vs our module on the same weights, and vs the saved reference.
    ours = architectures.build(json.loads((folder / "config.json").read_text())).double()
    architectures.load_state(ours, safetensors_io.read(folder / "model.safetensors"))
    hf64 = model.double().to(device).eval()
    worst_logits, worst_pooled = 0.0, 0.0
    for text in reference["texts"]:
        logits, mask = forward(hf64, text["ids"], token_types)
        with torch.no_grad():
            mine = ours(torch.tensor([text["ids"]]), torch.ones(1, len(text["ids"]), dtype=torch.int64))
        worst_logits = max(worst_logits, float((logits - mine).abs().max()))
        pooled = splade.pool_max(logits, mask, vocab)[0]
        for activation, pair in text["document"].items():
            worst_pooled = max(worst_pooled, float((splade.activate(pooled, activation) - dense(pair, "f64", vocab)).abs().max()))
    report(worst_logits < 1e-9, f"{name}: f64 logits, transformers vs our module", f"max abs {worst_logits:.2e}")
    report(worst_pooled < 1e-9, f"{name}: f64 pooled, transformers vs reference f64", f"max abs {worst_pooled:.2e}")

    # float32: transformers against the saved float32 logits and pooled weights.
    hf32 = model.float().to(device).eval()
    saved = safetensors_io.read(root / entry["logits"]) if entry.get("logits") else {}
    worst_logits, worst_pooled, own = 0.0, 0.0, reference["f32_vs_f64_max_abs"]
    for text in reference["texts"]:
        logits, mask = forward(hf32, text["ids"], token_types)
        if f"logits.{text['name']}" in saved:
            worst_logits = max(worst_logits, float((logits - saved[f"logits.{text['name']}"]).abs().max()))
        pooled = splade.pool_max(logits, mask, vocab)[0]
        for activation, pair in text["document"].items():
            worst_pooled = max(worst_pooled, float((splade.activate(pooled, activation).double() - dense(pair, "f64", vocab)).abs().max()))
    bound = 10 * max(own.values())
    report(worst_pooled <= bound, f"{name}: f32 pooled ({device}), transformers vs reference f64",
           f"max abs {worst_pooled:.2e} (reference f32 vs f64: {max(own.values()):.2e}; logits vs saved f32 {worst_logits:.2e})")

    # Tokenizers: Rust tokenizer ids for every text, and AutoTokenizer's truncation to the fed ids.
    import tokenizers

    rust = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    rust.no_truncation()
    rust.no_padding()
    differing = [t["name"] for t in texts["texts"] if rust.encode(t["text"]).ids != t["ids"]]
    report(not differing, f"{name}: tokenizers {tokenizers.__version__} ids == texts.json", f"differing: {differing or 'none'}")
    auto = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    differing = [t["name"] for t in reference["texts"]
                 if auto(t["text"], truncation=True, max_length=reference["max_length"])["input_ids"] != t["ids"]]
    report(not differing, f"{name}: AutoTokenizer ({type(auto).__name__}) == fed ids", f"differing: {differing or 'none'}")

    if use_st:
        check_sentence_transformers(name, folder, reference, entry, device)


def check_sentence_transformers(name, folder, reference, entry, device) -> None:
    try:
        from sentence_transformers import SparseEncoder

        encoder = SparseEncoder(str(folder), local_files_only=True, device=device, model_kwargs={"dtype": torch.float32})
        texts = [t["text"] for t in reference["texts"]]
        documents = encoder.encode_document(texts, convert_to_tensor=True, batch_size=4).to_dense().cpu().double()
    except Exception as error:  # a layout ST cannot load is reported, not fatal to the other checks
        report(False, f"{name}: sentence-transformers loads the layout", f"{type(error).__name__}: {str(error)[:300]}")
        return
    specials = list(architectures.SPECIAL_TOKEN_IDS)
    worst = 0.0
    for row, text in enumerate(reference["texts"]):
        expected = dense(text["document"][entry["activation"]], "f64", reference["vocab_size"])
        got = documents[row, :reference["vocab_size"]].clone()
        got[specials] = 0
        worst = max(worst, float((got - expected).abs().max()))
    report(worst <= 1e-3, f"{name}: sentence-transformers encode_document (batched, padded)",
           f"max abs {worst:.2e} vs reference f64 ({type(encoder[0]).__name__})")
    if entry["mode"] == "doc-only":
        queries = encoder.encode_query(texts, convert_to_tensor=True).to_dense().cpu().double()
        worst = 0.0
        for row, text in enumerate(reference["texts"]):
            expected = torch.zeros(reference["vocab_size"], dtype=torch.float64)
            expected[text["idf_query"]["token_ids"]] = torch.tensor(text["idf_query"]["weights"], dtype=torch.float64)
            got = queries[row, :reference["vocab_size"]].clone()
            got[specials] = 0
            worst = max(worst, float((got - expected).abs().max()))
        report(worst <= 1e-5, f"{name}: sentence-transformers encode_query (idf)", f"max abs {worst:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-st", action="store_true", help="skip the sentence-transformers layout check")
    parser.add_argument("--texts", type=Path, default=HERE / "texts.json")
    args = parser.parse_args()
    started = time.time()
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, device {args.device}", flush=True)
    texts = json.loads(args.texts.read_text(encoding="utf-8"))
    for root in args.dirs:
        index = json.loads((root / "index.json").read_text(encoding="utf-8"))
        print(f"# {root}: generated by torch {index['torch']}, weights {index['dtype']}, size {index['size']}", flush=True)
        for entry in index["folders"]:
            if entry["model_type"] not in ("bert", "distilbert"):
                print(f"SKIP  {entry['name']}: {entry['architecture']} needs Alibaba's remote code in transformers", flush=True)
                continue
            if not entry.get("reference"):
                print(f"SKIP  {entry['name']}: generated with --no-reference", flush=True)
                continue
            try:
                check_folder(root, entry, texts, args.device, not args.no_st)
            except Exception as error:
                report(False, f"{entry['name']}: check crashed", f"{type(error).__name__}: {str(error)[:300]}")
    failed = RESULTS.count(False)
    print(f"summary: {len(RESULTS) - failed} passed, {failed} failed in {time.time() - started:.1f} s")
    sys.exit(1 if failed or not RESULTS else 0)


if __name__ == "__main__":
    main()
