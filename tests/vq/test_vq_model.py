import pytest
import torch
import torch.nn.functional as F

from motionchat.motion.timing import frames_to_codes
from motionchat.vq import MotionVQVAE, VQConfig

SMALL = VQConfig(feature_dim=263, codebook_size=32, code_dim=16, width=24, depth=2, dilation_growth=3, down_t=2)


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = MotionVQVAE(SMALL)
    m(torch.randn(4, 64, 263))  # seeds the codebook
    return m.eval()


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 39, 64, 65, 196, 199])
def test_any_length_encodes_to_ceil_quarter_codes_and_decodes_to_the_exact_length(model, frames):
    features = torch.randn(2, frames, 263)
    codes = model.encode(features)
    assert codes.shape == (2, frames_to_codes(frames)) and codes.dtype == torch.int64
    assert model.decode(codes, frames).shape == (2, frames, 263)
    assert model.decode(codes).shape == (2, 4 * codes.shape[1], 263)


def test_padding_repeats_the_last_frame(model):
    features = torch.randn(1, 10, 263)
    padded = torch.cat([features, features[:, -1:].expand(1, 2, 263)], dim=1)
    assert torch.equal(model.encode(features), model.encode(padded))


def test_decode_of_encode_is_the_forward_reconstruction(model):
    features = torch.randn(3, 37, 263)
    out = model(features)
    assert torch.equal(out.codes, model.encode(features))
    torch.testing.assert_close(model.decode(out.codes, 37), out.reconstruction, rtol=0, atol=1e-6)


def test_unquantized_reconstruction_skips_only_the_codebook(model):
    features = torch.randn(2, 37, 263)
    unquantized = model.reconstruct_unquantized(features)
    assert unquantized.shape == features.shape
    # With the codebook set to the encoder's own outputs, quantizing changes nothing.
    latent = model.encoder(model._pad_to_codes(features)).detach()
    flat = latent.permute(0, 2, 1).reshape(-1, latent.shape[1])
    model.quantizer.codebook.data[: len(flat)] = flat
    torch.testing.assert_close(model(features).reconstruction, unquantized, rtol=0, atol=1e-5)


def test_decode_refuses_lengths_and_codes_it_cannot_produce(model):
    codes = torch.zeros(1, 5, dtype=torch.int64)
    for frames in (16, 21):
        with pytest.raises(ValueError, match="5 codes decode to 17..20 frames"):
            model.decode(codes, frames)
    with pytest.raises(ValueError, match=r"\[0, 32\)"):
        model.decode(torch.full((1, 3), 32))
    with pytest.raises(ValueError, match="expected features of shape"):
        model.encode(torch.randn(1, 10, 251))


def test_the_time_receptive_field_is_local(model):
    """Codes far from a change do not move: the encoder is convolutional, not global."""
    features = torch.randn(1, 128, 263)
    changed = features.clone()
    changed[:, -8:] += 5.0
    a, b = model.encode(features), model.encode(changed)
    assert torch.equal(a[:, :8], b[:, :8]) and not torch.equal(a, b)


def test_training_steps_reduce_the_reconstruction_loss():
    torch.manual_seed(0)
    m = MotionVQVAE(SMALL)
    t = torch.linspace(0, 6.28, 64)
    batch = torch.stack([torch.sin(t[:, None] * (1 + torch.arange(263) / 100) + phase) for phase in range(8)])  # (8, 64, 263)
    optimizer = torch.optim.AdamW(m.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        out = m(batch)
        loss = F.smooth_l1_loss(out.reconstruction, batch) + 0.02 * out.commit_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(F.smooth_l1_loss(out.reconstruction, batch).item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.grad is not None for p in m.encoder.parameters())  # gradients cross the quantiser


def test_bf16_autocast_keeps_the_quantiser_in_float32():
    torch.manual_seed(0)
    m = MotionVQVAE(SMALL)
    features = torch.randn(2, 32, 263)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(features)
        loss = F.smooth_l1_loss(out.reconstruction.float(), features) + 0.02 * out.commit_loss
    loss.backward()
    assert m.quantizer.codebook.dtype == torch.float32 and out.commit_loss.dtype == torch.float32
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in m.parameters())
