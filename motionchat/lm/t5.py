"""T5 inference without transformers: the bundle's weights in this project's own modules.

Importing transformers costs about 4 s of every cold command (torch.distributed, scipy, dynamo
pulled in by its utilities) for a model whose decoding is this project's own loop anyway. Here the
encoder, the decoder and the output head are written out (the same math as transformers'
`T5ForConditionalGeneration`; tests compare logits and answers), the weights come straight from
`model.safetensors` and the tokenizer from `tokenizer.json` through the `tokenizers` library that
transformers' fast tokenizer wraps, so both give the same ids. transformers stays for training and
for reading pretrained checkpoints (`model.py`, `storage.py`).

Module and parameter names mirror transformers' (`encoder.block.0.layer.0.SelfAttention.q`), so a
saved state dict loads with `load_state_dict(strict=True)` and every name is checked.

Decoding runs `FusedDecoder`: one token per row per step over a preallocated key/value cache, with
each layer's q/k/v in one product and every RMS-norm weight (and the output scale) folded into the
projection after it. At batch size 1 a step is mostly per-call overhead, so fewer, larger products
are faster; the folding changes only float rounding (logits agree to ~1e-6). A batch of WIDE_ROWS
rows or more reads its weights stored (in, out), can compute the logits of some ids only (the
narrowed head of `generation._decode`) and can feed a token without computing logits (`feed`);
all three give the same numbers bit for bit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from motionchat.errors import MotionchatError
from motionchat.lm.motion_time import motion_time, time_rows
from motionchat.lm.vocab import VocabLayout


@dataclass(frozen=True)
class T5Shape:
    """The architecture fields of a T5 `config.json` that inference needs.

    Args:
        gated: feed-forward is gated-gelu (T5 1.1 / flan) rather than relu (T5 1.0).
        scale_decoder_outputs: multiply the decoder output by d_model**-0.5 before the head (tied
            T5 1.0 style heads; transformers writes it, older configs imply it by tying).
    """

    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_heads: int
    num_layers: int
    num_decoder_layers: int
    relative_attention_num_buckets: int
    relative_attention_max_distance: int
    gated: bool
    layer_norm_epsilon: float
    scale_decoder_outputs: bool
    motion_time_rows: int = 0

    @classmethod
    def from_config(cls, data: dict, source: str = "config.json") -> T5Shape:
        if data.get("model_type") != "t5":
            raise MotionchatError(f"{source}: holds a {data.get('model_type')!r} model, not T5")
        act = data.get("feed_forward_proj", "relu")
        if act not in ("relu", "gated-gelu"):
            raise MotionchatError(f"{source}: feed_forward_proj {act!r} is not supported (relu or gated-gelu)")
        tied = data.get("tie_word_embeddings", True) is not False
        try:
            return cls(
                vocab_size=int(data["vocab_size"]),
                d_model=int(data["d_model"]),
                d_kv=int(data["d_kv"]),
                d_ff=int(data["d_ff"]),
                num_heads=int(data["num_heads"]),
                num_layers=int(data["num_layers"]),
                num_decoder_layers=int(data.get("num_decoder_layers") or data["num_layers"]),
                relative_attention_num_buckets=int(data.get("relative_attention_num_buckets", 32)),
                relative_attention_max_distance=int(data.get("relative_attention_max_distance", 128)),
                gated=act == "gated-gelu",
                layer_norm_epsilon=float(data.get("layer_norm_epsilon", 1e-6)),
                scale_decoder_outputs=bool(data.get("scale_decoder_outputs", tied)),
                motion_time_rows=time_rows(data),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise MotionchatError(f"{source}: bad T5 config ({err!r}); re-save the model") from None


def rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    """T5's layer norm without its weight: no mean subtracted, no bias, statistics in float32."""
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU, written as transformers' `gelu_new` (same rounding)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool, num_buckets: int,
                             max_distance: int) -> torch.Tensor:  # fmt: skip
    """T5's bucket of each (key - query) offset: exact for small offsets, log-spaced up to max_distance."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    large = max_exact + (
        torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(distance < max_exact, distance, large)


# Parameters are allocated uninitialised: `load_t5` assigns the saved tensors in their place.
# (torch's own layers initialise randomly, and on the meta device that imports torch._dynamo.)
class Linear(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class Embedding(Linear):
    """`rows` vectors of `dim`: the weight of a Linear from `dim` to `rows`, looked up by id."""

    def __init__(self, rows: int, dim: int):
        super().__init__(dim, rows)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class LayerNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * rms(x, self.eps)


class Attention(nn.Module):
    """Multi-head attention without the 1/sqrt(d) scale (T5 folds it into its initialisation)."""

    def __init__(self, shape: T5Shape, relative_bias: bool):
        super().__init__()
        inner = shape.num_heads * shape.d_kv
        self.heads, self.head_dim = shape.num_heads, shape.d_kv
        self.q = Linear(shape.d_model, inner)
        self.k = Linear(shape.d_model, inner)
        self.v = Linear(shape.d_model, inner)
        self.o = Linear(inner, shape.d_model)
        if relative_bias:
            self.relative_attention_bias = Embedding(shape.relative_attention_num_buckets, shape.num_heads)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = (proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2) for proj in (self.q, self.k, self.v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)  # (B, nh, T, hs)
        return self.o(y.transpose(1, 2).reshape(B, T, -1))

    def forward_tokens(self, x: torch.Tensor, bias: torch.Tensor, tokens: torch.LongTensor, B: int, T: int) -> torch.Tensor:
        """`forward` on the rows `tokens` of a (B * T, C) batch, given as (len(tokens), C): the
        projections see those rows alone, the attention the padded layout (other rows 0)."""
        inner = self.heads * self.head_dim
        padded = x.new_zeros(3, B * T, inner)
        for part, proj in zip(padded, (self.q, self.k, self.v)):
            part[tokens] = proj(x)
        q, k, v = (part.view(B, T, self.heads, self.head_dim).transpose(1, 2) for part in padded)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)  # (B, nh, T, hs)
        return self.o(y.transpose(1, 2).reshape(B * T, inner)[tokens])


class FeedForward(nn.Module):
    def __init__(self, shape: T5Shape):
        super().__init__()
        if shape.gated:
            self.wi_0 = Linear(shape.d_model, shape.d_ff)
            self.wi_1 = Linear(shape.d_model, shape.d_ff)
        else:
            self.wi = Linear(shape.d_model, shape.d_ff)
        self.wo = Linear(shape.d_ff, shape.d_model)
        self.gated = shape.gated

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(gelu_new(self.wi_0(x)) * self.wi_1(x) if self.gated else F.relu(self.wi(x)))


# transformers' names for the parts of a block, kept so that state dicts load unchanged.
class _SelfAttentionLayer(nn.Module):
    def __init__(self, shape: T5Shape, relative_bias: bool):
        super().__init__()
        self.SelfAttention = Attention(shape, relative_bias)
        self.layer_norm = LayerNorm(shape.d_model, shape.layer_norm_epsilon)


class _CrossAttentionLayer(nn.Module):
    def __init__(self, shape: T5Shape):
        super().__init__()
        self.EncDecAttention = Attention(shape, relative_bias=False)
        self.layer_norm = LayerNorm(shape.d_model, shape.layer_norm_epsilon)


class _FeedForwardLayer(nn.Module):
    def __init__(self, shape: T5Shape):
        super().__init__()
        self.DenseReluDense = FeedForward(shape)
        self.layer_norm = LayerNorm(shape.d_model, shape.layer_norm_epsilon)


class _Block(nn.Module):
    def __init__(self, shape: T5Shape, first: bool, decoder: bool):
        super().__init__()
        parts = [_SelfAttentionLayer(shape, relative_bias=first)]
        if decoder:
            parts.append(_CrossAttentionLayer(shape))
        self.layer = nn.ModuleList([*parts, _FeedForwardLayer(shape)])


class _Stack(nn.Module):
    def __init__(self, shape: T5Shape, depth: int, decoder: bool):
        super().__init__()
        self.block = nn.ModuleList([_Block(shape, first=i == 0, decoder=decoder) for i in range(depth)])
        self.final_layer_norm = LayerNorm(shape.d_model, shape.layer_norm_epsilon)


def position_bias(stack: nn.Module, shape: T5Shape, decoder: bool, query_length: int, key_length: int,
                  device: torch.device) -> torch.Tensor:  # fmt: skip
    """(1, nh, query_length, key_length) from the first block's table, shared by all blocks of `stack`
    (an encoder or decoder stack, this module's or transformers')."""
    offsets = torch.arange(key_length, device=device)[None, :] - torch.arange(query_length, device=device)[:, None]
    buckets = relative_position_bucket(offsets, not decoder, shape.relative_attention_num_buckets,
                                       shape.relative_attention_max_distance)  # fmt: skip
    table = stack.block[0].layer[0].SelfAttention.relative_attention_bias
    return table(buckets).permute(2, 0, 1)[None]


class T5(nn.Module):
    """Encoder, decoder and head of a T5 for inference (eval mode, no dropout, no training).

    `encode` runs the encoder over a padded batch; `start_decoder(model, ...)` a `FusedDecoder`
    over its output. The input embedding is shared by encoder and decoder; the head is tied to it unless the
    weights bring their own `lm_head.weight` (flan-t5).
    """

    def __init__(self, shape: T5Shape, tied_head: bool = True):
        super().__init__()
        self.shape = shape
        self.shared = Embedding(shape.vocab_size, shape.d_model)
        if shape.motion_time_rows:  # named as transformers' model saves it (motion_time.py)
            self.shared.time = Embedding(shape.motion_time_rows, shape.d_model)
        self.encoder = _Stack(shape, shape.num_layers, decoder=False)
        self.decoder = _Stack(shape, shape.num_decoder_layers, decoder=True)
        self.lm_head = Linear(shape.d_model, shape.vocab_size)
        if tied_head:
            self.lm_head.weight = self.shared.weight
        self._fused: tuple[tuple, FusedWeights] | None = None
        self.eval()

    @torch.inference_mode()
    def encode(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor, times: torch.LongTensor | None = None) -> torch.Tensor:
        """(B, S) ids and 0/1 mask -> (B, S, C) encoder output; `times`: the ids' motion time
        rows (`motion_time.motion_time`), for a model with a time table.

        A padded batch of at least WIDE_ROWS prompt tokens runs its row-wise parts (norms,
        projections, feed-forward) on the prompt tokens alone; only attention sees the padded
        layout. Every prompt token gets the same numbers as through the padded batch (a product's
        rows do not depend on the other rows at these sizes, and a masked key weighs exactly 0
        whatever it holds); the padding's outputs are 0 (they only ever meet masked attention)."""
        x = self.shared(input_ids)
        if times is not None:
            x = x + self.shared.time(times)
        B, S = input_ids.shape
        pad = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        pad.masked_fill_(attention_mask == 0, torch.finfo(x.dtype).min)
        bias = position_bias(self.encoder, self.shape, False, S, S, x.device).to(x.dtype)
        bias = bias + pad[:, None, None, :]  # (B, nh, S, S)
        tokens = attention_mask.reshape(-1).nonzero()[:, 0]
        if len(tokens) == B * S or len(tokens) < WIDE_ROWS:
            for block in self.encoder.block:
                attn, ff = block.layer
                x = x + attn.SelfAttention(attn.layer_norm(x), bias)
                x = x + ff.DenseReluDense(ff.layer_norm(x))
            return self.encoder.final_layer_norm(x)
        h = x.reshape(B * S, -1)[tokens]
        for block in self.encoder.block:
            attn, ff = block.layer
            h = h + attn.SelfAttention.forward_tokens(attn.layer_norm(h), bias, tokens, B, S)
            h = h + ff.DenseReluDense(ff.layer_norm(h))
        out = x.new_zeros(B * S, x.shape[-1])
        out[tokens] = self.encoder.final_layer_norm(h)
        return out.view(B, S, -1)

    def fused_weights(self) -> FusedWeights:
        """The decoder's weights fused for stepping; rebuilt whenever a parameter has changed."""
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if self._fused is None or self._fused[0] != key:
            self._fused = (key, FusedWeights(self, self.shape))
        return self._fused[1]

    def release_fused(self) -> None:
        """Drop the fused decoder weights (a copy of most of the decoder, 6 MB for the shipped
        model); the next decoding fuses them again (under a millisecond)."""
        self._fused = None


# At and above this many decoder rows the products read the decoder's weights stored (in, out),
# copied once: when the weights come from memory rather than cache (a batch's step streams them
# all) MKL multiplies them 5-25% faster than through the transposed (out, in) view, and at these
# sizes the result is bitwise the same (tests/lm/test_t5.py checks it with this machine's BLAS;
# with 1-11 rows MKL may take kernels that round differently). Smaller batches (chat) keep the
# (out, in) products their answers were recorded with.
WIDE_ROWS = 16


class FusedWeights:
    """Per decoder layer: self-attention q|k|v in one matrix, its output, cross-attention q (norm
    folded) and k|v (applied to the encoder output once per batch), the feed-forward input (norm
    folded) and output; then the head with the final norm and the output scale folded in.

    `model` is this module's `T5` or transformers' `T5ForConditionalGeneration` (same names)."""

    @torch.inference_mode()
    def __init__(self, model: nn.Module, shape: T5Shape):
        self.heads, self.head_dim, self.eps, self.gated = shape.num_heads, shape.d_kv, shape.layer_norm_epsilon, shape.gated
        self.embed = model.shared.weight
        self.time = model.shared.time.weight if hasattr(model.shared, "time") else None  # motion_time.py
        self.layers = []
        for block in model.decoder.block:
            self_attn, cross_attn, ff = block.layer
            a, c, d = self_attn.SelfAttention, cross_attn.EncDecAttention, ff.DenseReluDense
            wi = torch.cat([d.wi_0.weight, d.wi_1.weight]) if shape.gated else d.wi.weight
            self.layers.append((
                torch.cat([a.q.weight, a.k.weight, a.v.weight]) * self_attn.layer_norm.weight,  # (3 nh hs, C)
                a.o.weight,
                c.q.weight * cross_attn.layer_norm.weight,
                torch.cat([c.k.weight, c.v.weight]),
                c.o.weight,
                wi * ff.layer_norm.weight,
                d.wo.weight,
            ))  # fmt: skip
        scale = shape.d_model**-0.5 if shape.scale_decoder_outputs else 1.0
        self.head = model.lm_head.weight * (model.decoder.final_layer_norm.weight * scale)
        self.shape, self.stack = shape, model.decoder
        self._products: dict[bool, tuple[list, torch.Tensor]] = {}
        self.first_layer_tables: dict[tuple[int, ...], torch.Tensor] = {}  # see FusedDecoder.first_layer_rows

    @torch.inference_mode()
    def products(self, wide: bool) -> tuple[list[tuple[torch.Tensor, ...]], torch.Tensor]:
        """The step's (in, out) matrices, per layer (qkv, o, cross q, cross o, ff in, ff out), and
        the head's: transposed views, or with `wide` (see WIDE_ROWS) contiguous copies."""
        if wide not in self._products:
            layout = (lambda m: m.t().contiguous()) if wide else (lambda m: m.t())
            layers = [tuple(layout(m) for i, m in enumerate(layer) if i != 3) for layer in self.layers]
            self._products[wide] = (layers, layout(self.head))
        return self._products[wide]


class FusedDecoder:
    """Decoder state for one batch: cross-attention keys/values, self-attention cache, step count.

    Args:
        weights: `T5.fused_weights()`.
        encoder_hidden: (B, S, C) encoder output.
        encoder_mask: (B, S) 1 for prompt tokens, 0 for padding.
        max_steps: the most decoder tokens (including the start token) this batch will feed.
    """

    @torch.inference_mode()
    def __init__(self, weights: FusedWeights, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor, max_steps: int):
        self.w = weights
        B, S, _ = encoder_hidden.shape
        nh, hs = weights.heads, weights.head_dim
        dtype, device = encoder_hidden.dtype, encoder_hidden.device
        neg = torch.finfo(dtype).min
        self.cross_kv = []
        for layer in weights.layers:
            kv = F.linear(encoder_hidden, layer[3]).view(B, S, 2, nh, hs).permute(2, 0, 3, 1, 4)
            # laid out once as the products read them: keys (B, nh, hs, S), values (B, nh, S, hs)
            self.cross_kv.append((kv[0].transpose(-1, -2).contiguous(), kv[1].contiguous()))
        self.cross_bias = torch.zeros(B, 1, 1, S, dtype=dtype, device=device)
        self.cross_bias.masked_fill_(encoder_mask[:, None, None, :] == 0, neg)
        # Relative position bias plus the causal mask, for every query/key position this batch can
        # reach: (1, nh, max_steps, max_steps).
        causal = torch.ones(max_steps, max_steps, dtype=torch.bool, device=device).tril()
        bias = position_bias(weights.stack, weights.shape, True, max_steps, max_steps, device)
        self.self_bias = bias.to(dtype).masked_fill(~causal, neg)
        # keys and values of every layer and position, written one position per step (a position
        # is read only once written, so the buffer starts uninitialised)
        self.cache = torch.empty((len(weights.layers), 2, B, nh, max_steps, hs), dtype=dtype, device=device)
        # per layer and position: where its key and value go, laid out as the q|k|v product gives
        # them (B, 2, nh, hs), and the keys (transposed) and values a query there reads
        self.writes = [[c[:, :, :, t].permute(1, 0, 2, 3) for t in range(max_steps)] for c in self.cache]
        self.reads = [[(c[0, :, :, : t + 1].transpose(-1, -2), c[1, :, :, : t + 1]) for t in range(max_steps)]
                      for c in self.cache]  # fmt: skip
        self.max_steps, self.step_index = max_steps, 0
        self.wide = B >= WIDE_ROWS
        self.products, self.head = weights.products(self.wide)

    def head_rows(self, columns: torch.LongTensor) -> torch.Tensor:
        """The output head for the vocabulary ids `columns` alone, to pass to `step` as `head`."""
        rows = self.w.head[columns]
        return rows.t().contiguous() if self.wide else rows.contiguous().t()

    @torch.inference_mode()
    def first_layer_rows(self, ids: torch.LongTensor) -> torch.Tensor:
        """The first layer's q|k|v for each token in `ids` (len(ids), 3 nh hs), to pass rows of to
        `step` and `feed` as `first` when every token fed is one of `ids`: the first layer's
        input is the token's embedding alone. Kept with the weights for the next batch. Only for
        a wide decoder (WIDE_ROWS), from at least WIDE_ROWS ids: then a row is bitwise what the
        step's own product gives (a product's rows do not depend on the other rows)."""
        if not self.wide or len(ids) < WIDE_ROWS:
            raise ValueError(f"first-layer rows need a decoder and an id set of at least {WIDE_ROWS} rows")
        key = tuple(ids.tolist())
        if key not in self.w.first_layer_tables:
            x = F.embedding(ids, self.w.embed)
            self.w.first_layer_tables[key] = torch.mm(rms(x, self.w.eps), self.products[0][0])
        return self.w.first_layer_tables[key]

    @torch.inference_mode()
    def step(self, tokens: torch.LongTensor, head: torch.Tensor | None = None, first: torch.Tensor | None = None,
             times: torch.LongTensor | None = None) -> torch.Tensor:  # fmt: skip
        """Feed one token per row (B,); returns the next-token logits (B, V), or with `head`
        (from `head_rows(columns)`) only the logits of those columns (B, len(columns)). `first`:
        the tokens' rows of `first_layer_rows`, if given. `times`: the tokens' motion time rows,
        for a model with a time table (then `first` cannot be used: the input is not the
        embedding alone)."""
        return self._advance(tokens, head, first, times)

    @torch.inference_mode()
    def feed(self, tokens: torch.LongTensor, first: torch.Tensor | None = None, times: torch.LongTensor | None = None) -> None:
        """Feed one token per row (B,) whose next-token logits nobody needs (the next token is
        forced): only what later steps read is computed, every layer's key and value here."""
        self._advance(tokens, None, first, times, logits=False)

    @torch.inference_mode()
    def forward_all(self, tokens: torch.LongTensor, times: torch.LongTensor | None = None) -> torch.Tensor:
        """Teacher forcing: the next-token logits (B, T, V) after each of `tokens` (B, T), every
        position in one pass (T <= max_steps); `times` as `step` takes them, per token. The step
        state is neither read nor changed."""
        w, (B, T) = self.w, tokens.shape
        nh, hs, eps = w.heads, w.head_dim, w.eps
        x = F.embedding(tokens, w.embed)
        if times is not None:
            x = x + F.embedding(times, w.time)
        bias = self.self_bias[:, :, :T, :T]
        for (qkv_m, o_m, cq_m, co_m, wi_m, wo_m), (keys_t, values) in zip(self.products, self.cross_kv):
            q, k, v = torch.matmul(rms(x, eps), qkv_m).view(B, T, 3, nh, hs).permute(2, 0, 3, 1, 4)
            y = torch.matmul((torch.matmul(q, k.transpose(-1, -2)) + bias).softmax(-1), v)  # (B, nh, T, hs)
            x = x + torch.matmul(y.transpose(1, 2).reshape(B, T, nh * hs), o_m)
            q = torch.matmul(rms(x, eps), cq_m).view(B, T, nh, hs).transpose(1, 2)
            y = torch.matmul((torch.matmul(q, keys_t) + self.cross_bias).softmax(-1), values)
            x = x + torch.matmul(y.transpose(1, 2).reshape(B, T, nh * hs), co_m)
            x = x + torch.matmul(_hidden(x, wi_m, eps, w.gated), wo_m)
        return torch.matmul(rms(x, eps), self.head)

    @property
    def timed(self) -> bool:
        """The model has a motion time table: each fed token needs its time row."""
        return self.w.time is not None

    def _advance(self, tokens: torch.LongTensor, head: torch.Tensor | None, first: torch.Tensor | None,
                 times: torch.LongTensor | None = None, logits: bool = True) -> torch.Tensor | None:  # fmt: skip
        t, w = self.step_index, self.w
        if t >= self.max_steps:
            raise IndexError(f"the decoder cache holds {self.max_steps} steps")
        self.step_index = t + 1
        B, nh, hs, eps = tokens.shape[0], w.heads, w.head_dim, w.eps
        x = F.embedding(tokens, w.embed)  # (B, C)
        if times is not None:
            x = x + F.embedding(times, w.time)
        bias = self.self_bias[:, :, t : t + 1, : t + 1]  # (1, nh, 1, t+1)
        last = len(self.products) - 1
        for i, (qkv_m, o_m, cq_m, co_m, wi_m, wo_m) in enumerate(self.products):  # (in, out) each
            qkv = (first if i == 0 and first is not None else torch.mm(rms(x, eps), qkv_m)).view(B, 3, nh, 1, hs)
            self.writes[i][t].copy_(qkv[:, 1:, :, 0])  # this position's key and value
            if i == last and not logits:
                return None
            y = _attend(qkv[:, 0], *self.reads[i][t], bias)
            x = torch.addmm(x, y.view(B, nh * hs), o_m)

            q = torch.mm(rms(x, eps), cq_m).view(B, nh, 1, hs)
            x = torch.addmm(x, _attend(q, *self.cross_kv[i], self.cross_bias).view(B, nh * hs), co_m)

            x = torch.addmm(x, _hidden(x, wi_m, eps, w.gated), wo_m)
        return torch.mm(rms(x, eps), self.head if head is None else head)


def _hidden(x: torch.Tensor, wi_m: torch.Tensor, eps: float, gated: bool) -> torch.Tensor:
    """The feed-forward's hidden activations (its norm folded into `wi_m`, stored (in, out))."""
    h = torch.matmul(rms(x, eps), wi_m)
    if gated:
        gate, linear = h.chunk(2, dim=-1)
        return gelu_new(gate) * linear
    return h.relu_()


def _attend(q: torch.Tensor, keys_t: torch.Tensor, values: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """One query per row, (B, nh, 1, hs), against keys (B, nh, hs, T) and values (B, nh, T, hs),
    unscaled, plus `bias`. Two small products; at this size `scaled_dot_product_attention` costs
    more (its kernel's set-up, per call)."""
    return torch.matmul((torch.matmul(q, keys_t) + bias).softmax(-1), values)


def load_t5(directory: str | Path, device: str | torch.device = "cpu") -> T5:
    """The T5 saved by transformers' `save_pretrained` in `directory` (config.json + model.safetensors)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    if not weights_path.is_file():
        raise MotionchatError(f"{directory}: no model.safetensors; re-save the model with this version of motionchat")
    try:
        shape = T5Shape.from_config(json.loads(config_path.read_text()), str(config_path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MotionchatError(f"{config_path}: unreadable ({type(err).__name__}); re-save the model") from None
    try:
        state = load_file(weights_path, device=str(device))
    except Exception as err:  # noqa: BLE001  safetensors raises its own error types for a damaged file
        raise MotionchatError(f"{weights_path}: could not read the weights ({err}); re-save the model") from None
    # transformers writes the tied embedding once, as shared.weight; the stacks' embed_tokens alias it
    state = {k: v for k, v in state.items() if not k.endswith("embed_tokens.weight")}
    tied = "lm_head.weight" not in state
    model = T5(shape, tied_head=tied)
    if tied:
        state["lm_head.weight"] = state["shared.weight"]
    try:
        missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as err:  # a tensor of the wrong size
        missing, unexpected = [str(err).strip().splitlines()[-1].strip()], []
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise MotionchatError(f"{weights_path}: the weights do not fit config.json ({what}); re-save the model")
    if tied:  # assigning gave the head its own Parameter (of the same tensor); share the one
        model.lm_head.weight = model.shared.weight
    return model.eval()


# Generation takes either backbone: this module's `T5` (answering) or transformers' model, which
# training samples from while it learns (its weights are fused afresh for each call).


def encoder_output(model, batch: dict, vocab: VocabLayout | None = None) -> torch.Tensor:
    """(B, S, C) encoder output for a tokenised batch, from either backbone. A model with a motion
    time table needs `vocab` to place the codes (transformers' adds the time in its embedding
    module; see motion_time.py)."""
    if isinstance(model, T5):
        rows = model.shape.motion_time_rows
        if rows and vocab is None:
            raise ValueError("a model with a motion time table needs the vocabulary layout to encode")
        times = motion_time(batch["input_ids"], vocab, rows) if rows else None
        return model.encode(batch["input_ids"], batch["attention_mask"], times)
    return model.get_encoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state


def start_decoder(model, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor, max_steps: int):
    """An incremental decoder (`.step(tokens) -> logits`) over `encoder_hidden`, for either backbone."""
    if isinstance(model, T5):
        weights = model.fused_weights()
    else:
        weights = FusedWeights(model, T5Shape.from_config(model.config.to_dict()))
    return FusedDecoder(weights, encoder_hidden, encoder_mask, max_steps)


def vocab_rows(model) -> int:
    """Width of the backbone's logits."""
    return model.shape.vocab_size if isinstance(model, T5) else model.config.vocab_size
