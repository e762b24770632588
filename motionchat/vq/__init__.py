"""Motion tokenizer (stage 1): features <-> discrete motion codes."""

from motionchat.filenames import VQ_FILE
from motionchat.vq.config import VQConfig
from motionchat.vq.io import load_vq, read_vq_config, save_vq
from motionchat.vq.model import MotionVQVAE, VQOutput
from motionchat.vq.quantizer import QuantizeEMAReset

__all__ = ["VQ_FILE", "MotionVQVAE", "QuantizeEMAReset", "VQConfig", "VQOutput", "load_vq", "read_vq_config", "save_vq"]
