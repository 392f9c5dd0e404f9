#!/usr/bin/env python3
"""Record Hugging Face `tokenizers` ids for the fixture texts (run where `tokenizers` is installed).

    python3 tools/reference/record_hf_ids.py TOKENIZER_JSON [TEXTS_JSON]

Adds "ids" (with [CLS]/[SEP], no truncation) to every entry of texts.json and records the tokenizers version as
provenance. The ids in the committed texts.json were produced this way; check_transformers.py re-checks them.
"""
import json
import sys
from pathlib import Path

import tokenizers


def main() -> None:
    tokenizer_path = sys.argv[1]
    texts_path = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).with_name("texts.json"))
    tokenizer = tokenizers.Tokenizer.from_file(tokenizer_path)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    data = json.loads(texts_path.read_text(encoding="utf-8"))
    for entry in data["texts"]:
        entry["ids"] = tokenizer.encode(entry["text"], add_special_tokens=True).ids
    data["ids_source"] = f"huggingface tokenizers {tokenizers.__version__} (Rust), bert-base-uncased tokenizer.json, no truncation"
    texts_path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for entry in data["texts"]:
        print(entry["name"], len(entry["ids"]), entry["ids"][:12])


if __name__ == "__main__":
    main()
