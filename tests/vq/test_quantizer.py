import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from motionchat.vq.quantizer import QuantizeEMAReset, perplexity


def seeded_quantizer(codebook: torch.Tensor, decay: float = 0.9) -> QuantizeEMAReset:
    q = QuantizeEMAReset(codebook.shape[0], codebook.shape[1], decay)
    q.codebook.copy_(codebook)
    q.code_sum.copy_(codebook)
    q.code_count.fill_(1.0)
    q.initialised.fill_(True)
    return q


def test_quantize_picks_the_nearest_code_and_dequantize_inverts():
    torch.manual_seed(0)
    q = seeded_quantizer(torch.randn(16, 5))
    x = torch.randn(200, 5)
    indices = q.quantize(x)
    assert torch.equal(indices, torch.cdist(x, q.codebook).argmin(dim=1))
    assert torch.equal(q.quantize(q.dequantize(indices)), indices)


def test_perplexity_counts_effective_codes():
    assert perplexity(torch.tensor([5.0, 5.0, 5.0, 5.0, 0.0])).item() == pytest.approx(4.0)
    assert perplexity(torch.tensor([0.0, 9.0, 0.0])).item() == pytest.approx(1.0)


def test_ema_update_and_dead_code_reset():
    codebook = torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]])
    q = seeded_quantizer(codebook, decay=0.5)
    x = torch.tensor([[1.0, 1.0], [3.0, 1.0], [9.0, 11.0]])  # two vectors near code 0, one near code 1
    indices = q.quantize(x)
    assert indices.tolist() == [0, 0, 1]
    counts = q.update_codebook(x, indices)
    assert counts.tolist() == [2.0, 1.0, 0.0]
    assert q.code_count.tolist() == [1.5, 1.0, 0.5]  # 0.5 * 1 + 0.5 * count
    torch.testing.assert_close(q.codebook[0], (0.5 * codebook[0] + 0.5 * (x[0] + x[1])) / 1.5)
    torch.testing.assert_close(q.codebook[1], (0.5 * codebook[1] + 0.5 * x[2]) / 1.0)
    # code 2 starved (EMA count 0.5 < 1): re-seeded near one of the batch vectors
    assert torch.cdist(q.codebook[2:3], x).min() < 0.1


def test_forward_seeds_the_codebook_from_the_first_batch_then_updates():
    torch.manual_seed(0)
    q = QuantizeEMAReset(8, 4)
    assert not q.initialised
    x = torch.randn(2, 4, 16, requires_grad=True)  # (B, D, N): 32 vectors
    quantized, indices, commit, ppl = q(x)
    assert q.initialised and indices.shape == (2, 16) and quantized.shape == x.shape
    flat = x.detach().permute(0, 2, 1).reshape(-1, 4)
    # Seeded from batch rows, then moved towards assigned means: inside the data's bounding box.
    assert (q.codebook >= flat.min(dim=0).values - 0.05).all() and (q.codebook <= flat.max(dim=0).values + 0.05).all()
    assert q.codebook.abs().sum(dim=1).min() > 0
    (quantized.sum() + commit).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # straight-through gradient reaches the encoder
    assert 1.0 <= ppl.item() <= 8.0


def test_eval_mode_leaves_the_codebook_alone():
    torch.manual_seed(0)
    q = seeded_quantizer(torch.randn(8, 4)).eval()
    before = {k: v.clone() for k, v in q.state_dict().items()}
    q(torch.randn(3, 4, 10))
    for name, value in q.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_all_codebook_state_is_in_the_state_dict():
    torch.manual_seed(0)
    q = QuantizeEMAReset(8, 4)
    for _ in range(3):
        q(torch.randn(2, 4, 12))
    assert set(q.state_dict()) == {"codebook", "code_sum", "code_count", "initialised"}
    resumed = QuantizeEMAReset(8, 4)
    resumed.load_state_dict(q.state_dict())
    x = torch.randn(2, 4, 12)
    torch.manual_seed(1)
    out_a = q(x)
    torch.manual_seed(1)
    out_b = resumed(x)
    for a, b in zip(out_a, out_b):
        assert torch.equal(a, b)
    assert torch.equal(q.codebook, resumed.codebook)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _update_on_two_processes(rank: int, port: int, batches: torch.Tensor, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(100 + rank)  # different random streams: the broadcast must make them agree
    q = QuantizeEMAReset(6, 3, 0.8)
    for step in range(4):
        q(batches[step, rank])
    results[rank] = {k: v.numpy().copy() for k, v in q.state_dict().items()}
    dist.destroy_process_group()


@pytest.mark.slow  # two processes: ~4 s of the default suite
def test_processes_keep_one_codebook_summing_their_statistics():
    batches = torch.randn(4, 2, 2, 3, 5)  # step, rank, (B, D, N)
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_update_on_two_processes, args=(_free_port(), batches, results), nprocs=2)
        rank0, rank1 = dict(results[0]), dict(results[1])
    for name in rank0:
        assert (rank0[name] == rank1[name]).all(), name
    # The EMA counts are those of the two processes' batches together.
    assert rank0["code_count"].sum().item() == pytest.approx(
        0.8**4 * 6 + sum(0.8**k * 0.2 * 20 for k in range(4)), rel=1e-5
    )
