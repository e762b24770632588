"""One T5 decoder step at a time over a preallocated key/value cache.

Same math as `T5ForConditionalGeneration`'s decoder (tests compare the logits and the greedy
tokens with `model.generate`), without the per-call bookkeeping of `model(...)` inside `generate`
(cache objects, output records, mask building), which at batch size 1 on a CPU costs more than the
matrix products themselves: `benchmarks/generate.py --compare-hf` times both. The layer norms,
feed-forward blocks, embeddings, relative position bias and output head are the model's own
modules; only attention and its cache are written here. Use it in eval mode without gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import T5ForConditionalGeneration


class IncrementalT5Decoder:
    """Decoder state for one batch: cross-attention keys/values, self-attention cache, step count.

    Args:
        model: the backbone (its weights are used in place, not copied).
        encoder_hidden: (B, S, C) encoder output.
        encoder_mask: (B, S) 1 for prompt tokens, 0 for padding.
        max_steps: the most decoder tokens (including the start token) this batch will feed.
    """

    def __init__(
        self,
        model: T5ForConditionalGeneration,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        max_steps: int,
    ):
        cfg = model.config
        self.blocks = model.decoder.block
        self.embed = model.decoder.embed_tokens
        self.final_norm = model.decoder.final_layer_norm
        self.lm_head = model.lm_head
        self.output_scale = cfg.d_model**-0.5 if cfg.scale_decoder_outputs else 1.0
        self.heads, self.head_dim = cfg.num_heads, cfg.d_kv
        self.max_steps = max_steps
        B, S, _ = encoder_hidden.shape
        dtype, device = encoder_hidden.dtype, encoder_hidden.device
        neg = torch.finfo(dtype).min

        self.cross_kv = []
        for block in self.blocks:
            attn = block.layer[1].EncDecAttention
            k = F.linear(encoder_hidden, attn.k.weight).view(B, S, self.heads, self.head_dim).transpose(1, 2)
            v = F.linear(encoder_hidden, attn.v.weight).view(B, S, self.heads, self.head_dim).transpose(1, 2)
            self.cross_kv.append((k, v))  # (B, nh, S, hs)
        self.cross_bias = torch.zeros(B, 1, 1, S, dtype=dtype, device=device)
        self.cross_bias.masked_fill_(encoder_mask[:, None, None, :] == 0, neg)

        # Relative position bias (first layer's table, shared by all layers) plus the causal mask,
        # for every query/key position this batch can reach: (1, nh, max_steps, max_steps).
        position_bias = self.blocks[0].layer[0].SelfAttention.compute_bias(max_steps, max_steps, device=device)
        causal = torch.ones(max_steps, max_steps, dtype=torch.bool, device=device).tril()
        self.self_bias = position_bias.to(dtype).masked_fill(~causal, neg)

        cache_shape = (len(self.blocks), B, self.heads, max_steps, self.head_dim)
        self.keys = torch.zeros(cache_shape, dtype=dtype, device=device)
        self.values = torch.zeros(cache_shape, dtype=dtype, device=device)
        self.step_index = 0

    def step(self, tokens: torch.LongTensor) -> torch.Tensor:
        """Feed one token per row (B,); returns the next-token logits (B, V)."""
        t = self.step_index
        if t >= self.max_steps:
            raise IndexError(f"the decoder cache holds {self.max_steps} steps")
        B, nh, hs = tokens.shape[0], self.heads, self.head_dim
        x = self.embed(tokens)[:, None, :]  # (B, 1, C)
        bias = self.self_bias[:, :, t : t + 1, : t + 1]  # (1, nh, 1, t+1)
        for i, block in enumerate(self.blocks):
            self_attn, cross_attn, ff = block.layer
            h = self_attn.layer_norm(x)
            a = self_attn.SelfAttention
            q = F.linear(h, a.q.weight).view(B, 1, nh, hs).transpose(1, 2)  # (B, nh, 1, hs)
            self.keys[i, :, :, t] = F.linear(h, a.k.weight).view(B, nh, hs)
            self.values[i, :, :, t] = F.linear(h, a.v.weight).view(B, nh, hs)
            y = F.scaled_dot_product_attention(  # T5 does not scale q.k
                q, self.keys[i, :, :, : t + 1], self.values[i, :, :, : t + 1], attn_mask=bias, scale=1.0
            )
            x = x + F.linear(y.transpose(1, 2).reshape(B, 1, nh * hs), a.o.weight)

            h = cross_attn.layer_norm(x)
            a = cross_attn.EncDecAttention
            q = F.linear(h, a.q.weight).view(B, 1, nh, hs).transpose(1, 2)
            k, v = self.cross_kv[i]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.cross_bias, scale=1.0)
            x = x + F.linear(y.transpose(1, 2).reshape(B, 1, nh * hs), a.o.weight)

            x = ff(x)  # layer norm + feed-forward + residual
        x = self.final_norm(x)[:, 0] * self.output_scale
        self.step_index += 1
        return self.lm_head(x)
