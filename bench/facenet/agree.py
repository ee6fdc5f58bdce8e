"""facenet-pytorch's side of bench/facenet/agree.sh.

make DATA N OUT: seeded random InceptionResnetV1 weights with non-trivial batch-norm
statistics, saved as OUT/model.pt (zip) and OUT/model_legacy.pt (legacy stream); N face crops
(300-W HELEN photos: the box of the 68 points, 25 % margin, resized to 160 x 160) as
OUT/chips/NNN.png; facenet-pytorch's embeddings of them (eval mode, input
(v - 127.5) / 128 as its fixed_image_standardization) in OUT/torch.txt.

Also OUT/model.h5: the same weights in the layout of keras-facenet's facenet_keras.h5 (Keras 2's
model.save: model_weights/<layer>/<layer>/<weight>:0; layer names of keras-facenet's
inception_resnet_v1.py; kernels HWIO, the dense kernel in x out; batch norms without gamma), and
OUT/torch_h5.txt: facenet-pytorch's embeddings with every batch-norm gamma set to 1 (Keras'
BatchNormalization(scale=False)) of the chips standardised per chip as keras-facenet's demo does
(Sandberg's prewhiten).

compare OUT FACEMARK.txt [REFERENCE=torch.txt]: max |difference| and the smallest cosine between
the two sides.
"""
import importlib.util
import os
import sys
import time
import types

import numpy as np
import torch
from PIL import Image


def facenet_module():
    """facenet_pytorch.models.inception_resnet_v1 without the package's __init__ (which imports
    MTCNN and torchvision, not needed here)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("facenet_pytorch", root), ("facenet_pytorch.models", os.path.join(root, "models"))):
        m = types.ModuleType(name)
        m.__path__ = [path]
        sys.modules[name] = m
    import facenet_pytorch.models.inception_resnet_v1 as irv1
    return irv1


def read_pts(path):
    lines = open(path).read().split("{")[1].split("}")[0].split()
    v = np.array([float(x) for x in lines]).reshape(-1, 2)
    return v


def chips(data, n, out):
    names = sorted(f for f in os.listdir(data) if f.endswith(".pts"))[:n]
    paths = []
    for i, f in enumerate(names):
        p = read_pts(os.path.join(data, f))
        base = f[:-4]
        img = next(os.path.join(data, base + e) for e in (".jpg", ".png") if os.path.exists(os.path.join(data, base + e)))
        (x0, y0), (x1, y1) = p.min(0), p.max(0)
        cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 1.25
        im = Image.open(img).convert("RGB").crop((int(cx - s / 2), int(cy - s / 2), int(cx + s / 2), int(cy + s / 2)))
        path = os.path.join(out, "chips", f"{i:03}.png")
        im.resize((160, 160), Image.BILINEAR).save(path)
        paths.append(path)
    return paths


def to_tensor(paths):
    a = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in paths])
    return (torch.from_numpy(a).permute(0, 3, 1, 2) - 127.5) / 128.0


def make(data, n, out):
    torch.manual_seed(0)
    irv1 = facenet_module()
    net = irv1.InceptionResnetV1()
    paths = chips(data, int(n), out)
    x = to_tensor(paths)
    # running statistics from the chips themselves (cumulative average), so that every layer
    # sees activations of a sensible scale; then random scales and shifts
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = None
        net.train()
        for _ in range(2):
            net(x)
        g = torch.Generator().manual_seed(1)
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
                m.momentum = 0.1
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
        net.eval()
        y = net(x)
        # speed: one chip per forward pass after a warm-up, THREADS threads (as facemark's side)
        torch.set_num_threads(int(os.environ.get("THREADS", "2")))
        net(x[:1])
        t0 = time.perf_counter()
        for i in range(len(x)):
            net(x[i:i + 1])
        ms = (time.perf_counter() - t0) * 1e3 / len(x)
    sd = net.state_dict()
    torch.save(sd, os.path.join(out, "model.pt"))
    torch.save(sd, os.path.join(out, "model_legacy.pt"), _use_new_zipfile_serialization=False)
    with open(os.path.join(out, "torch.txt"), "w") as f:
        for p, v in zip(paths, y.numpy()):
            f.write(p + " " + " ".join(f"{t:.9e}" for t in v) + "\n")
    rm = [v.abs().mean().item() for k, v in sd.items() if k.endswith("running_mean")]
    print(f"torch {torch.__version__}: {len(paths)} chips, {len(sd)} tensors, "
          f"mean |running_mean| {np.mean(rm):.3f}, embedding norms {y.norm(dim=1).min():.4f}-{y.norm(dim=1).max():.4f}; "
          f"torch: {ms:.2f} ms per chip ({torch.get_num_threads()} threads)")
    keras_side(net, paths, out)


def keras_names():
    """facenet-pytorch module -> keras-facenet layer, from keras-facenet's naming
    (_generate_layer_name: <block>_<idx>_Branch_<b>_<conv>, <layer>_BatchNorm)."""
    m = {"conv2d_1a": "Conv2d_1a_3x3", "conv2d_2a": "Conv2d_2a_3x3", "conv2d_2b": "Conv2d_2b_3x3",
         "conv2d_3b": "Conv2d_3b_1x1", "conv2d_4a": "Conv2d_4a_3x3", "conv2d_4b": "Conv2d_4b_3x3"}
    convs = {
        "Block35": ["0:Conv2d_1x1", "1:Conv2d_0a_1x1", "1:Conv2d_0b_3x3", "2:Conv2d_0a_1x1",
                    "2:Conv2d_0b_3x3", "2:Conv2d_0c_3x3"],
        "Block17": ["0:Conv2d_1x1", "1:Conv2d_0a_1x1", "1:Conv2d_0b_1x7", "1:Conv2d_0c_7x1"],
        "Block8": ["0:Conv2d_1x1", "1:Conv2d_0a_1x1", "1:Conv2d_0b_1x3", "1:Conv2d_0c_3x1"],
        "Mixed_6a": ["0:Conv2d_1a_3x3", "1:Conv2d_0a_1x1", "1:Conv2d_0b_3x3", "1:Conv2d_1a_3x3"],
        "Mixed_7a": ["0:Conv2d_0a_1x1", "0:Conv2d_1a_3x3", "1:Conv2d_0a_1x1", "1:Conv2d_1a_3x3",
                     "2:Conv2d_0a_1x1", "2:Conv2d_0b_3x3", "2:Conv2d_1a_3x3"],
    }

    def block(ours, keras, kind):
        count = {}
        for c in convs[kind]:
            b, name = c.split(":")
            i = count[b] = count.get(b, -1) + 1
            # a branch of one conv is a bare BasicConv2d in facenet-pytorch (branch0), else
            # an nn.Sequential (branch1.0, branch1.1, ...)
            alone = sum(x.startswith(b + ":") for x in convs[kind]) == 1
            m[f"{ours}.branch{b}" + ("" if alone else f".{i}")] = f"{keras}_Branch_{b}_{name}"
        if kind.startswith("Block"):
            m[f"{ours}.conv2d"] = f"{keras}_Conv2d_1x1"

    for i in range(5):
        block(f"repeat_1.{i}", f"Block35_{i + 1}", "Block35")
    for i in range(10):
        block(f"repeat_2.{i}", f"Block17_{i + 1}", "Block17")
    for i in range(5):
        block(f"repeat_3.{i}", f"Block8_{i + 1}", "Block8")
    block("block8", "Block8_6", "Block8")
    block("mixed_6a", "Mixed_6a", "Mixed_6a")
    block("mixed_7a", "Mixed_7a", "Mixed_7a")
    return m


def write_keras(sd, path):
    """The state dict `sd` as keras-facenet's model.save lays it out; every tensor but the
    batch norms' weights (gamma, absent in Keras) and counters must be used."""
    import h5py
    names = keras_names()
    layers, used = {}, set()

    def put(layer, weight, key, value):
        layers.setdefault(layer, {})[weight] = value.detach().numpy().astype(np.float32)
        used.add(key)

    for key, v in sd.items():
        mod, _, field = key.rpartition(".")
        if key == "last_linear.weight":
            put("Bottleneck", "kernel", key, v.t())
        elif mod == "last_bn" or mod.endswith(".bn"):
            layer = "Bottleneck_BatchNorm" if mod == "last_bn" else names[mod[:-3]] + "_BatchNorm"
            keras = {"bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
            if field in keras:
                put(layer, keras[field], key, v)
            elif field in ("weight", "num_batches_tracked"):
                used.add(key)  # gamma is 1 (scale=False); the counter is no weight
        elif mod.endswith(".conv") and field == "weight":
            put(names[mod[:-5]], "kernel", key, v.permute(2, 3, 1, 0))
        elif mod.endswith(".conv2d"):
            put(names[mod], {"weight": "kernel", "bias": "bias"}[field], key,
                v.permute(2, 3, 1, 0) if field == "weight" else v)
    left = [k for k in sd if k not in used and not k.startswith("logits.")]
    assert not left, f"not written: {left}"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = np.bytes_("2.1.5")
        f.attrs["backend"] = np.bytes_("tensorflow")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for layer, weights in layers.items():
            g = mw.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{layer}/{w}:0".encode() for w in weights])
            for w, v in weights.items():
                g.create_dataset(f"{layer}/{w}:0", data=v)
    return len(layers), sum(len(w) for w in layers.values())


def prewhiten(x):
    """Sandberg's prewhiten per chip (keras-facenet's demo): (x - mean) / max(std, 1/sqrt(n))."""
    n = x[0].numel()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False).clamp(min=1.0 / np.sqrt(n))
    return (x - mean) / std


def keras_side(net, paths, out):
    """model.h5 and torch_h5.txt (see the module docstring)."""
    n_layers, n_weights = write_keras(net.state_dict(), os.path.join(out, "model.h5"))
    raw = torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32)
                                     for p in paths])).permute(0, 3, 1, 2)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.fill_(1.0)
        y = net(prewhiten(raw.double()).float())
    with open(os.path.join(out, "torch_h5.txt"), "w") as f:
        for p, v in zip(paths, y.numpy()):
            f.write(p + " " + " ".join(f"{t:.9e}" for t in v) + "\n")
    print(f"model.h5: {n_layers} Keras layers, {n_weights} datasets, "
          f"{os.path.getsize(os.path.join(out, 'model.h5')) / 1e6:.1f} MB")


def load(path):
    out = {}
    for line in open(path):
        p, *v = line.split()
        out[os.path.basename(p)] = np.array([float(t) for t in v], dtype=np.float64)
    return out


def compare(out, facemark, reference="torch.txt"):
    t, f = load(os.path.join(out, reference)), load(facemark)
    assert t.keys() == f.keys(), "different chips"
    diff = max(np.abs(t[k] - f[k]).max() for k in t)
    cos = min(t[k] @ f[k] / np.linalg.norm(t[k]) / np.linalg.norm(f[k]) for k in t)
    dist = max(np.linalg.norm(t[k] - f[k]) for k in t)
    spread = np.mean([np.abs(t[a] - t[b]).max() for a in t for b in t if a < b])
    print(f"{os.path.basename(facemark)}: {len(t)} chips, {len(next(iter(t.values())))}-d: "
          f"max |difference| {diff:.3e}, max distance {dist:.3e}, 1 - min cosine {1 - cos:.1e} "
          f"(mean max |difference| between different chips: {spread:.3f})")
    if diff > 1e-4:
        sys.exit("FAIL: difference above 1e-4")


if __name__ == "__main__":
    {"make": make, "compare": compare}[sys.argv[1]](*sys.argv[2:])
