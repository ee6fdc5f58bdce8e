"""Writes the small torch.save fixtures of facemark-formats' .pt reader tests
(crates/formats/tests/data/torch_*.pt), with the venv of bench/facenet/agree.sh:

    target/bench-facenet-venv/bin/python bench/facenet/torch_fixtures.py crates/formats/tests/data

Contents (the tests know them): `a` = arange(6) / 4 as 2 x 3 float32; `t` = a transposed (a
non-contiguous view of a's storage); `row` = a[1] (a view at offset 3); `n` = int64 scalar 7
(as batch norm's num_batches_tracked); `h` = float16 [1.5, -2]; `p` = an nn.Parameter
ones(2) (pickled through _rebuild_parameter when saved inside a dict).
"""
import collections
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
a = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
sd = collections.OrderedDict(
    a=a, t=a.t(), row=a[1], n=torch.tensor(7), h=torch.tensor([1.5, -2.0], dtype=torch.float16),
    p=torch.nn.Parameter(torch.ones(2)),
)
torch.save(sd, os.path.join(out, "torch_zip.pt"))
torch.save(sd, os.path.join(out, "torch_legacy.pt"), _use_new_zipfile_serialization=False)
print("torch", torch.__version__, sorted(os.listdir(out)))
