"""PyTorch masked-LM modules with Hugging Face's exact parameter names, written from the public architectures.

- BertForMaskedLM (transformers `modeling_bert.py`): post-LayerNorm encoder, absolute positions, token types, MLM
  head `cls.predictions` with its decoder tied to the word embeddings.
- DistilBertForMaskedLM (transformers `modeling_distilbert.py`): no token types, query scaled before QK^T, MLM head
  `vocab_transform` / `vocab_layer_norm` / `vocab_projector` (tied).
- NewForMaskedLM, GTE v1.5 (`model_type: "new"`, Alibaba-NLP new-impl `modeling.py`; TEI `gte.rs`): weights under
  `new.`, packed QKV (`qkv_proj`, rows q|k|v), rotary position embeddings on q and k (rotate-half form, cos/sin
  of `cat(freqs, freqs)`, optional fixed NTK scaling), gated MLP `up_gate_proj` (first half "up", second half the
  gate that goes through the activation, no bias) and `down_proj`, post-LayerNorm `attn_ln` / `mlp_ln`, MLM head
  `lm_head.dense` / `lm_head.norm` / `lm_head.decoder` (weight tied to the word embeddings, own bias).

Every module runs in float32 or float64 (`.double()`); attention masks are additive with the dtype's minimum, as
the eager implementations do. No dropout (inference only).
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

SPECIAL_TOKEN_IDS = (0, 100, 101, 102, 103)


def _act(name: str):
    if name == "gelu":
        return F.gelu  # exact erf form, as transformers' GELUActivation
    if name == "relu":
        return F.relu
    if name in ("silu", "swish"):
        return F.silu
    raise ValueError(f"unsupported activation {name}")


def _additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, S] 1/0 mask -> [B, 1, 1, S] additive bias: 0 where attended, dtype-min where padded."""
    inverted = 1.0 - attention_mask[:, None, None, :].to(dtype)
    return inverted * torch.finfo(dtype).min


def _attend(q, k, v, bias, scale):
    """q, k, v: [B, H, S, D]."""
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale + bias
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def _heads(x, heads):
    b, s, hidden = x.shape
    return x.view(b, s, heads, hidden // heads).transpose(1, 2)


def _merge(x):
    b, h, s, d = x.shape
    return x.transpose(1, 2).reshape(b, s, h * d)


# ----------------------------------------------------------------------------------------------------------- BERT
class _Holder(nn.Module):
    """A named container, so that attribute paths spell Hugging Face's parameter names."""


def _linear(n_in, n_out, bias=True):
    return nn.Linear(n_in, n_out, bias=bias)


class BertForMaskedLM(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        d, ff, eps = config["hidden_size"], config["intermediate_size"], config["layer_norm_eps"]
        self.heads = config["num_attention_heads"]
        self.act = _act(config["hidden_act"])
        self.bert = _Holder()
        emb = self.bert.embeddings = _Holder()
        emb.word_embeddings = nn.Embedding(config["vocab_size"], d)
        emb.position_embeddings = nn.Embedding(config["max_position_embeddings"], d)
        emb.token_type_embeddings = nn.Embedding(config["type_vocab_size"], d)
        emb.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.bert.encoder = _Holder()
        self.bert.encoder.layer = nn.ModuleList()
        for _ in range(config["num_hidden_layers"]):
            layer = _Holder()
            layer.attention = _Holder()
            layer.attention.self = _Holder()
            for name in ("query", "key", "value"):
                setattr(layer.attention.self, name, _linear(d, d))
            layer.attention.output = _Holder()
            layer.attention.output.dense = _linear(d, d)
            layer.attention.output.LayerNorm = nn.LayerNorm(d, eps=eps)
            layer.intermediate = _Holder()
            layer.intermediate.dense = _linear(d, ff)
            layer.output = _Holder()
            layer.output.dense = _linear(ff, d)
            layer.output.LayerNorm = nn.LayerNorm(d, eps=eps)
            self.bert.encoder.layer.append(layer)
        self.cls = _Holder()
        self.cls.predictions = _Holder()
        self.cls.predictions.transform = _Holder()
        self.cls.predictions.transform.dense = _linear(d, d)
        self.cls.predictions.transform.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.cls.predictions.bias = nn.Parameter(torch.zeros(config["vocab_size"]))

    tied = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        emb = self.bert.embeddings
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = emb.word_embeddings(input_ids) + emb.position_embeddings(positions)[None] + emb.token_type_embeddings(token_type_ids)
        x = emb.LayerNorm(x)
        bias = _additive_mask(attention_mask, x.dtype)
        head_dim = self.config["hidden_size"] // self.heads
        for layer in self.bert.encoder.layer:
            sa = layer.attention.self
            context = _attend(_heads(sa.query(x), self.heads), _heads(sa.key(x), self.heads), _heads(sa.value(x), self.heads),
                              bias, 1.0 / math.sqrt(head_dim))
            x = layer.attention.output.LayerNorm(layer.attention.output.dense(_merge(context)) + x)
            x = layer.output.LayerNorm(layer.output.dense(self.act(layer.intermediate.dense(x))) + x)
        p = self.cls.predictions
        h = p.transform.LayerNorm(self.act(p.transform.dense(x)))
        return F.linear(h, emb.word_embeddings.weight, p.bias)


# ----------------------------------------------------------------------------------------------------- DistilBERT
class DistilBertForMaskedLM(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        d, ff = config["dim"], config["hidden_dim"]
        eps = 1e-12  # hard-coded in transformers' DistilBERT
        self.heads = config["n_heads"]
        self.act = _act(config["activation"])
        self.distilbert = _Holder()
        emb = self.distilbert.embeddings = _Holder()
        emb.word_embeddings = nn.Embedding(config["vocab_size"], d)
        emb.position_embeddings = nn.Embedding(config["max_position_embeddings"], d)
        emb.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.distilbert.transformer = _Holder()
        self.distilbert.transformer.layer = nn.ModuleList()
        for _ in range(config["n_layers"]):
            layer = _Holder()
            layer.attention = _Holder()
            for name in ("q_lin", "k_lin", "v_lin", "out_lin"):
                setattr(layer.attention, name, _linear(d, d))
            layer.sa_layer_norm = nn.LayerNorm(d, eps=eps)
            layer.ffn = _Holder()
            layer.ffn.lin1 = _linear(d, ff)
            layer.ffn.lin2 = _linear(ff, d)
            layer.output_layer_norm = nn.LayerNorm(d, eps=eps)
            self.distilbert.transformer.layer.append(layer)
        self.vocab_transform = _linear(d, d)
        self.vocab_layer_norm = nn.LayerNorm(d, eps=eps)
        self.vocab_projector = _Holder()
        self.vocab_projector.bias = nn.Parameter(torch.zeros(config["vocab_size"]))

    tied = {"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"}

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        emb = self.distilbert.embeddings
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = emb.LayerNorm(emb.word_embeddings(input_ids) + emb.position_embeddings(positions)[None])
        bias = _additive_mask(attention_mask, x.dtype)
        head_dim = self.config["dim"] // self.heads
        for layer in self.distilbert.transformer.layer:
            a = layer.attention
            q = _heads(a.q_lin(x), self.heads) / math.sqrt(head_dim)  # DistilBERT scales q first
            context = _attend(q, _heads(a.k_lin(x), self.heads), _heads(a.v_lin(x), self.heads), bias, 1.0)
            x = layer.sa_layer_norm(a.out_lin(_merge(context)) + x)
            x = layer.output_layer_norm(layer.ffn.lin2(self.act(layer.ffn.lin1(x))) + x)
        h = self.vocab_layer_norm(self.act(self.vocab_transform(x)))
        return F.linear(h, emb.word_embeddings.weight, self.vocab_projector.bias)


# ----------------------------------------------------------------------------------------------- GTE (new-impl)
def rope_inverse_frequencies(head_dim: int, theta: float, scaling: dict | None, dtype: torch.dtype) -> torch.Tensor:
    """inv_freq[i] = 1 / theta^(2i/D); fixed NTK scaling (factor f): theta*f and a further division by f^(2/D).

    new-impl builds its cos/sin cache for max_position_embeddings * factor positions, which always exceeds the
    unscaled length, so with `rope_scaling` set the scaled frequencies are the ones used at every length.
    """
    base = theta
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype) / head_dim
    if scaling is not None:
        if scaling.get("type") != "ntk" or scaling.get("mixed_b") is not None:
            raise ValueError(f"unsupported rope_scaling {scaling}")
        factor = scaling["factor"]
        base = theta * factor
        return 1.0 / (base ** exponents) / (factor ** (2.0 / head_dim))
    return 1.0 / (base ** exponents)


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class NewForMaskedLM(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        if config.get("position_embedding_type", "rope") != "rope":
            raise ValueError("only rope position embeddings are implemented")
        if config.get("logn_attention_scale") or config.get("layer_norm_type", "layer_norm") != "layer_norm":
            raise ValueError("logn_attention_scale and rms_norm are not implemented")
        d, ff, eps = config["hidden_size"], config["intermediate_size"], config["layer_norm_eps"]
        self.heads = config["num_attention_heads"]
        self.act = _act(config["hidden_act"])
        self.new = _Holder()
        emb = self.new.embeddings = _Holder()
        emb.word_embeddings = nn.Embedding(config["vocab_size"], d)
        if config.get("type_vocab_size", 0) > 0:
            emb.token_type_embeddings = nn.Embedding(config["type_vocab_size"], d)
        emb.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.new.encoder = _Holder()
        self.new.encoder.layer = nn.ModuleList()
        for _ in range(config["num_hidden_layers"]):
            layer = _Holder()
            layer.attention = _Holder()
            layer.attention.qkv_proj = _linear(d, 3 * d)
            layer.attention.o_proj = _linear(d, d)
            layer.mlp = _Holder()
            layer.mlp.up_gate_proj = _linear(d, 2 * ff, bias=False)
            layer.mlp.down_proj = _linear(ff, d)
            layer.attn_ln = nn.LayerNorm(d, eps=eps)
            layer.mlp_ln = nn.LayerNorm(d, eps=eps)
            self.new.encoder.layer.append(layer)
        self.lm_head = _Holder()
        self.lm_head.dense = _linear(d, d)
        self.lm_head.norm = nn.LayerNorm(d, eps=eps)
        self.lm_head.decoder = _Holder()
        self.lm_head.decoder.bias = nn.Parameter(torch.zeros(config["vocab_size"]))

    tied = {"lm_head.decoder.weight": "new.embeddings.word_embeddings.weight"}

    def rope(self, seq: int, dtype: torch.dtype, device=None):
        """cos, sin [S, D]. In float32 they are computed as new-impl does (float32 positions and frequencies), so
        the float32 forward carries the same rounding as the original; in float64 they are exact."""
        head_dim = self.config["hidden_size"] // self.heads
        compute = torch.float64 if dtype == torch.float64 else torch.float32
        inv_freq = rope_inverse_frequencies(head_dim, float(self.config["rope_theta"]), self.config.get("rope_scaling"), compute)
        positions = torch.arange(seq, dtype=compute, device=device)
        freqs = torch.outer(positions, inv_freq.to(device))
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        emb = self.new.embeddings
        x = emb.word_embeddings(input_ids)
        if hasattr(emb, "token_type_embeddings"):
            x = x + emb.token_type_embeddings(torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids)
        x = emb.LayerNorm(x)
        bias = _additive_mask(attention_mask, x.dtype)
        d = self.config["hidden_size"]
        head_dim = d // self.heads
        cos, sin = self.rope(input_ids.shape[1], x.dtype, x.device)
        for layer in self.new.encoder.layer:
            q, k, v = (_heads(t, self.heads) for t in layer.attention.qkv_proj(x).split(d, dim=-1))
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            context = _attend(q, k, v, bias, 1.0 / math.sqrt(head_dim))
            x = layer.attn_ln(x + layer.attention.o_proj(_merge(context)))
            up, gate = layer.mlp.up_gate_proj(x).split(self.config["intermediate_size"], dim=-1)
            x = layer.mlp_ln(x + layer.mlp.down_proj(self.act(gate) * up))
        h = self.lm_head.norm(self.act(self.lm_head.dense(x)))
        return F.linear(h, emb.word_embeddings.weight, self.lm_head.decoder.bias)


ARCHITECTURES = {
    "BertForMaskedLM": BertForMaskedLM,
    "DistilBertForMaskedLM": DistilBertForMaskedLM,
    "NewForMaskedLM": NewForMaskedLM,
}


def build(config: dict) -> nn.Module:
    return ARCHITECTURES[config["architectures"][0]](config).eval()


def takes_token_type_ids(config: dict) -> bool:
    return config["model_type"] == "bert" or (config["model_type"] == "new" and config.get("type_vocab_size", 0) > 0)


def max_positions(config: dict) -> int:
    return config["max_position_embeddings"]


def load_state(model: nn.Module, tensors: dict) -> None:
    """Load a hub state dict: tied decoder weights may be absent (save_pretrained drops them) or duplicated."""
    own = dict(model.named_parameters())
    for name, source in model.tied.items():
        if name in tensors and not torch.equal(tensors[name], tensors[source]):
            raise ValueError(f"{name} differs from {source}; untied decoders are not supported by this reference")
    unknown = sorted(set(tensors) - set(own) - set(model.tied))
    missing = sorted(set(own) - set(tensors))
    if unknown or missing:
        raise ValueError(f"state dict mismatch: unknown {unknown[:5]}, missing {missing[:5]}")
    with torch.no_grad():
        for name, parameter in own.items():
            if tuple(tensors[name].shape) != tuple(parameter.shape):
                raise ValueError(f"{name}: shape {tuple(tensors[name].shape)}, expected {tuple(parameter.shape)}")
            parameter.copy_(tensors[name].to(parameter.dtype))
