"""facenet-pytorch's side of bench/facenet/agree.sh.

make DATA N OUT: seeded random InceptionResnetV1 weights with non-trivial batch-norm
statistics, saved as OUT/model.pt (zip) and OUT/model_legacy.pt (legacy stream); N face crops
(300-W HELEN photos: the box of the 68 points, 25 % margin, resized to 160 x 160) as
OUT/chips/NNN.png; facenet-pytorch's embeddings of them (eval mode, input
(v - 127.5) / 128 as its fixed_image_standardization) in OUT/torch.txt.

compare OUT FACEMARK.txt: max |difference| and the smallest cosine between the two sides.
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


def load(path):
    out = {}
    for line in open(path):
        p, *v = line.split()
        out[os.path.basename(p)] = np.array([float(t) for t in v], dtype=np.float64)
    return out


def compare(out, facemark):
    t, f = load(os.path.join(out, "torch.txt")), load(facemark)
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
