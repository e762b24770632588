"""The embedded default data: a procedural motion-language corpus in HumanML3D format.

Modules, in the order data flows through them:

* `vocabulary`  the program vocabulary: 31 primitives, their parameters and allowed values
* `program`     sampling programs of 1-3 actions; held-out action pairs; coverage
* `segment`     a performer's style, segments, neutral poses and time curves
* `stepping` `jumping` `gestures` `postures`   the primitives, one function each
* `gait`        footstep planning and swing trajectories shared by the stepping primitives
* `body`        pose channels -> 22 joints (forward kinematics + two-bone inverse kinematics)
* `compose`     chaining and cross-fading segments into a clip (`generate_clip`)
* `captions`    paraphrased captions, the POS tagger, and `parse_caption` back to programs
* `edits`       edited variants with instructions and difference sentences
* `corpus`      the corpus on disk (`synthesize_corpus`), deterministic and parallel; not imported
                here, since it pulls in torch (import `motionchat.data.synth.corpus`)
* `plausibility` the physical checks the corpus is held to
"""

from motionchat.data.synth.captions import parse_caption, write_captions
from motionchat.data.synth.compose import generate_clip
from motionchat.data.synth.vocabulary import ACTIONS, Action

__all__ = ["ACTIONS", "Action", "generate_clip", "parse_caption", "write_captions"]
