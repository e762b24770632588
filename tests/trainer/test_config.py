import json

import pytest

from motionchat.errors import MotionchatError
from motionchat.vq import VQConfig
from trainer.config import TrainConfig, apply_overrides, config_to_dict, parse_set_options, read_config_file
from trainer.run_config import RunOptions, resolve_stage_config
from trainer.stage1 import STAGE1_PRESETS, Stage1Config


def new_stage1_config(tmp_path, preset="tiny", config_file=None, set_options=()):
    """The config a new `trainer stage1` run would train with."""
    options = RunOptions(tmp_path / "run", preset, config_file, list(set_options), max_steps=None, resume=False, force=False)
    cfg, _, _ = resolve_stage_config(stage="stage1", presets=STAGE1_PRESETS, default=Stage1Config(), run_dir=options.out, options=options)
    return cfg


def test_set_options_nest_and_parse_to_the_field_types():
    overrides = parse_set_options(["train.lr=1e-4", "vq.width=64", "train.tensorboard=true", "crop_frames = 32"])
    assert overrides == {"train": {"lr": "1e-4", "tensorboard": "true"}, "vq": {"width": "64"}, "crop_frames": "32"}
    cfg = apply_overrides(STAGE1_PRESETS["tiny"], overrides, "--set")
    assert cfg.train.lr == 1e-4 and cfg.vq.width == 64 and cfg.train.tensorboard is True and cfg.crop_frames == 32
    assert cfg.train.steps == STAGE1_PRESETS["tiny"].train.steps  # untouched keys keep the preset's value
    assert STAGE1_PRESETS["tiny"].vq.width != 64  # presets are not modified


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train": {"lrr": "1"}}, "unknown config key 'train.lrr'; known keys: train.steps"),
        ({"colour": "red"}, "unknown config key 'colour'"),
        ({"train": "fast"}, "'train' is a section"),
        ({"crop_frames": {"a": 1}}, "'crop_frames' is a setting, not a section"),
        ({"train": {"lr": "abc"}}, "bad value for 'train.lr'"),
        ({"train": {"tensorboard": "maybe"}}, "takes true or false"),
        ({"train": {"steps": 2.5}}, "train.steps must be int, got float"),
        ({"train": {"steps": True}}, "train.steps must be int, got bool"),
        ({"train": {"lr_schedule": "linear"}}, "lr_schedule must be one of cosine, step, constant"),
        ({"train": {"batch_size": "0"}}, "out of range: batch_size"),
        ({"vq": {"width": "0"}}, "width must be at least 1"),
        ({"crop_frames": "30"}, "multiple of 4"),
    ],
)
def test_bad_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(MotionchatError, match=message) as err:
        apply_overrides(STAGE1_PRESETS["tiny"], overrides, "my.toml")
    assert str(err.value).startswith("my.toml: ") and "\n" not in str(err.value)


def test_bad_set_syntax():
    with pytest.raises(MotionchatError, match="expected KEY=VALUE"):
        parse_set_options(["train.lr"])
    with pytest.raises(MotionchatError, match="'train' was already given a value"):
        parse_set_options(["train=1", "train.lr=2"])


def test_config_files_json_and_toml(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('crop_frames = 32\n[train]\nlr = 3e-4\nsteps = 10\n[vq]\ncodebook_size = 128\n')
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps({"crop_frames": 32, "train": {"lr": 3e-4, "steps": 10}, "vq": {"codebook_size": 128}}))
    a = new_stage1_config(tmp_path, config_file=toml)
    b = new_stage1_config(tmp_path, config_file=as_json)
    assert a == b and a.train.lr == 3e-4 and a.vq.codebook_size == 128
    # --set wins over the file (applied later)
    c = new_stage1_config(tmp_path, config_file=toml, set_options=["train.steps=7"])
    assert c.train.steps == 7 and c.train.lr == 3e-4


def test_bad_config_files(tmp_path):
    for name, text, message in [
        ("c.yaml", "a: 1", "must be .json or .toml"),
        ("missing.toml", None, "config file not found"),
        ("broken.toml", "[train\nlr=", "cannot parse config"),
        ("list.json", "[1, 2]", "must be a table/object"),
    ]:
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(MotionchatError, match=message):
            read_config_file(path)
    with pytest.raises(MotionchatError, match="unknown preset 'huge'; choose one of tiny, base"):
        new_stage1_config(tmp_path, preset="huge")


def test_a_saved_config_rebuilds_the_same_dataclass():
    cfg = STAGE1_PRESETS["base"]
    assert apply_overrides(Stage1Config(), json.loads(json.dumps(config_to_dict(cfg))), "config.json") == cfg


def test_base_preset_is_motiongpts_tokenizer():
    base = STAGE1_PRESETS["base"]
    assert base.vq == VQConfig(codebook_size=512, code_dim=512, width=512, depth=3, dilation_growth=3, down_t=2)
    assert base.vq.frames_per_code == 4 and base.crop_frames == 64
    assert (base.commit_weight, base.velocity_weight) == (0.02, 0.5)
    assert (base.train.batch_size, base.train.lr, base.train.beta2) == (256, 2e-4, 0.99)
    assert isinstance(STAGE1_PRESETS["tiny"].train, TrainConfig)


def test_stop_when_reads_a_bound_on_a_metric():
    from trainer.config import met, parse_stop_when

    condition = parse_stop_when("judge_t2m_r_precision_top3>=0.8")
    assert condition == ("judge_t2m_r_precision_top3", ">=", 0.8) and parse_stop_when("  ") is None
    assert met(condition, {"judge_t2m_r_precision_top3": 0.8}) and not met(condition, {"judge_t2m_r_precision_top3": 0.79})
    assert not met(condition, {"loss": 0.1}) and met(parse_stop_when("loss<=0.5"), {"loss": 0.1})
    for bad in ("loss", "loss>0.5", ">=1", "loss>=high"):
        with pytest.raises(ValueError, match="stop_when"):
            parse_stop_when(bad)
