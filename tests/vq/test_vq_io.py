import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from motionchat.errors import MotionchatError
from motionchat.vq import MotionVQVAE, VQConfig, load_vq, read_vq_config, save_vq

CFG = VQConfig(feature_dim=251, codebook_size=16, code_dim=8, width=12, depth=2, dilation_growth=2, down_t=2, ema_decay=0.95)


@pytest.fixture
def trained():
    torch.manual_seed(0)
    model = MotionVQVAE(CFG)
    for _ in range(3):
        model(torch.randn(2, 32, 251))
    return model.eval()


def test_round_trip_is_exact(trained, tmp_path):
    path = save_vq(trained, tmp_path / "vq.safetensors")
    loaded = load_vq(path)
    assert loaded.cfg == CFG and not loaded.training
    assert bool(loaded.quantizer.initialised)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    features = torch.randn(2, 45, 251)
    assert torch.equal(loaded.encode(features), trained.encode(features))
    assert read_vq_config(path) == CFG
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


def test_bad_files_are_one_line_errors(trained, tmp_path):
    with pytest.raises(MotionchatError, match="tokenizer file not found"):
        load_vq(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(MotionchatError, match="not a readable safetensors file"):
        load_vq(junk)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(MotionchatError, match="not a motionchat tokenizer"):
        load_vq(foreign)

    path = save_vq(trained, tmp_path / "vq.safetensors")
    tensors = load_file(str(path))
    config = CFG.to_dict() | {"width": 13}
    lying = tmp_path / "lying.safetensors"
    save_file(tensors, str(lying), metadata={"format": "motionchat-vq/1", "vq_config": json.dumps(config)})
    with pytest.raises(MotionchatError, match="weights do not match the stored config") as err:
        load_vq(lying)
    assert "\n" not in str(err.value)
    bad_config = tmp_path / "bad_config.safetensors"
    save_file(tensors, str(bad_config), metadata={"format": "motionchat-vq/1", "vq_config": json.dumps({"colour": 1})})
    with pytest.raises(MotionchatError, match="bad tokenizer config"):
        load_vq(bad_config)
