"""The fast decoder must compute exactly what the Hugging Face T5 decoder computes."""

import pytest
import torch
from transformers import LogitsProcessorList, T5Config, T5ForConditionalGeneration

from motionchat.lm.constraints import OutputConstraint
from motionchat.lm.kv_decoder import IncrementalT5Decoder
from motionchat.lm.vocab import VocabLayout

V = 120


def _model(flan_like: bool, decoder_layers: int = 3) -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=V, d_model=48, d_kv=12, d_ff=96, num_layers=2, num_decoder_layers=decoder_layers, num_heads=4,
        feed_forward_proj="gated-gelu" if flan_like else "relu",
        # transformers 5 always ties; False means "do not scale the decoder output" (T5 1.1 / flan)
        tie_word_embeddings=not flan_like,
        relative_attention_num_buckets=8, relative_attention_max_distance=16, decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    if flan_like:  # a separate output head, as flan-t5 checkpoints have
        model.set_output_embeddings(torch.nn.Linear(48, V, bias=False))
    return model.eval()


@pytest.mark.parametrize("flan_like", [False, True])
def test_step_logits_match_the_full_forward(flan_like):
    model = _model(flan_like)
    assert (model.lm_head.weight is model.shared.weight) != flan_like
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(2, V, (3, 9), generator=generator)
    mask = torch.ones_like(input_ids)
    mask[1, 6:] = 0  # a padded prompt
    mask[2, 3:] = 0
    decoder_ids = torch.cat([torch.zeros(3, 1, dtype=torch.long), torch.randint(2, V, (3, 39), generator=generator)], 1)
    with torch.no_grad():
        reference = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        encoder_hidden = model.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
        decoder = IncrementalT5Decoder(model, encoder_hidden, mask, max_steps=decoder_ids.shape[1])
        steps = torch.stack([decoder.step(decoder_ids[:, t]) for t in range(decoder_ids.shape[1])], 1)
        with pytest.raises(IndexError):
            decoder.step(decoder_ids[:, 0])
    # 40 positions: beyond relative_attention_max_distance, so the log-spaced buckets are exercised
    torch.testing.assert_close(steps, reference, atol=1e-5, rtol=1e-5)


def test_greedy_loop_equals_transformers_generate_with_the_same_constraint():
    from motionchat.lm.generation import _decode

    # equal depths: transformers 5.23's generate sizes its cache by the encoder depth
    model = _model(flan_like=True, decoder_layers=2)
    vocab = VocabLayout(text_size=80, codebook_size=36, motion_start=80, som_id=116, eom_id=117, mask_id=118,
                        sep_id=119, pad_id=0, eos_id=1)
    input_ids = torch.randint(2, 80, (4, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(input_ids)
    mask[3, 4:] = 0
    kinds = ["motion", "text", "motion", "text"]
    min_codes, max_codes = [1, 1, 5, 1], [12, 12, 5, 12]

    def constraint():
        return OutputConstraint(vocab, V, kinds, min_codes, max_codes, text_banned=[0, 2, *range(80, 120)])

    budget = 15
    with torch.no_grad():
        reference = model.generate(
            input_ids=input_ids, attention_mask=mask, logits_processor=LogitsProcessorList([constraint()]),
            do_sample=False, max_new_tokens=budget, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        )
        encoder_hidden = model.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
        ours = _decode(model, encoder_hidden, mask, vocab, [budget] * 4, [constraint()], uniforms=None)
    for row, ids in zip(reference.tolist(), ours):
        assert row[1 : 1 + len(ids)] == ids
        assert all(t == 0 for t in row[1 + len(ids) :])  # generate pads finished rows
    assert ours[2][0] == vocab.som_id and len(ours[2]) == 1 + 5 + 2  # <som> 5 codes <eom> </s>
