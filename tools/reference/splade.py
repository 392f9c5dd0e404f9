"""SPLADE pooling as OpenSearch runs it (opensearch-py-ml `NeuralSparseModel.forward`, the TorchScript ml-commons
serves), and the doc-only query side (idf lookup).

Document / bi-encoder query, per text with ids, mask [S] and logits [S, V]:
  m[v] = max_s(logits[s, v] * mask[s])                      (logits sliced to the tokenizer's V columns first)
  w[v] = log(1 + relu(m[v]))                                 activation "log1p_relu"       (ST config "relu")
  w[v] = log(1 + log(1 + relu(m[v])))                        activation "log1p_log1p_relu" (ST config "log1p_relu")
  w[special] = 0 for [PAD] [UNK] [CLS] [SEP] [MASK]; emit w > 0. No prune here (callers apply w > r * max(w)).
`log(1 + x)` (not log1p) is what OpenSearch computes; in float32 it drops weights below ~6e-8.

Doc-only query: q[t] = idf[token(t)] for each distinct non-special id t among the (truncated) ids; 1.0 when the
token is missing from idf.json.
"""
import torch

from architectures import SPECIAL_TOKEN_IDS

# Activation names as the sidecar spells them (ModelWireNames), and the sentence-transformers SpladePooling
# `activation_function` that means the same thing.
ACTIVATIONS = {"log1p_relu": "relu", "log1p_log1p_relu": "log1p_relu"}


def pool_max(logits: torch.Tensor, attention_mask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """[B, S, V'] logits, [B, S] mask -> [B, V] max over the sequence of logits * mask."""
    logits = logits[..., :vocab_size]
    return (logits * attention_mask.unsqueeze(-1).to(logits.dtype)).max(dim=1).values


def activate(pooled: torch.Tensor, activation: str) -> torch.Tensor:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
    weights = torch.log(1 + torch.relu(pooled))
    if activation == "log1p_log1p_relu":
        weights = torch.log(1 + weights)
    weights = weights.clone()
    weights[..., list(SPECIAL_TOKEN_IDS)] = 0
    return weights


def idf_query(ids, idf_by_id: dict) -> dict:
    """Doc-only query weights: {token id: idf} over the distinct non-special ids."""
    return {t: idf_by_id.get(t, 1.0) for t in sorted(set(ids)) if t not in SPECIAL_TOKEN_IDS}
