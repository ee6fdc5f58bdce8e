"""Writes crates/formats/tests/data/keras_small.h5, the fixture of facemark-formats' Keras .h5
reader tests, with h5py as Keras 2's `model.save` lays a file out (the layout of
keras-facenet's facenet_keras.h5), with the venv of bench/facenet/agree.sh:

    target/bench-facenet-venv/bin/python bench/facenet/keras_fixture.py crates/formats/tests/data

Layout: root attributes `keras_version`, `backend`, `model_config` (JSON); group
`model_weights` with attributes `layer_names`, `keras_version`, `backend`; one group per layer,
attribute `weight_names`, the weights in a subgroup of the layer's own name, datasets
`<weight>:0` in float32. Layers (the tests know them): `input_1` and `MaxPool_3a_3x3` without
weights; `Conv2d_1a_3x3` kernel [3, 3, 3, 2] (HWIO) = arange(54) / 8; `Conv2d_1a_3x3_BatchNorm`
beta, moving_mean, moving_variance [2] (no gamma: `scale=False`) = [0.5, -0.5], [1, 2], [3, 4];
`Block35_1_Conv2d_1x1` kernel [1, 1, 2, 2] = [[1, 2], [3, 4]], bias [2] = [0.25, -0.25];
`Bottleneck` kernel [2, 3] (in x out) = arange(6).
"""
import json
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
f32 = np.float32
layers = [
    ("input_1", {}),
    ("Conv2d_1a_3x3", {"kernel": (np.arange(54, dtype=f32) / 8).reshape(3, 3, 3, 2)}),
    ("Conv2d_1a_3x3_BatchNorm", {
        "beta": np.array([0.5, -0.5], f32),
        "moving_mean": np.array([1, 2], f32),
        "moving_variance": np.array([3, 4], f32),
    }),
    ("MaxPool_3a_3x3", {}),
    ("Block35_1_Conv2d_1x1", {
        "kernel": np.array([[1, 2], [3, 4]], f32).reshape(1, 1, 2, 2),
        "bias": np.array([0.25, -0.25], f32),
    }),
    ("Bottleneck", {"kernel": np.arange(6, dtype=f32).reshape(2, 3)}),
]
path = os.path.join(out, "keras_small.h5")
with h5py.File(path, "w") as f:
    f.attrs["keras_version"] = np.bytes_("2.1.5")
    f.attrs["backend"] = np.bytes_("tensorflow")
    config = {"class_name": "Model", "config": {"name": "inception_resnet_v1", "layers": [
        {"name": n, "class_name": "Layer"} for n, _ in layers]}}
    f.attrs["model_config"] = np.bytes_(json.dumps(config))
    mw = f.create_group("model_weights")
    mw.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
    mw.attrs["keras_version"] = np.bytes_("2.1.5")
    mw.attrs["backend"] = np.bytes_("tensorflow")
    for name, weights in layers:
        g = mw.create_group(name)
        g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w in weights], dtype="S")
        for w, v in weights.items():
            g.create_dataset(f"{name}/{w}:0", data=v)
print(path, os.path.getsize(path), "bytes, h5py", h5py.__version__, "HDF5", h5py.version.hdf5_version)
