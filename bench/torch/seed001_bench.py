"""PyTorch reference for facemark's seed-001 benchmark (same net, same shapes, same steps).

Prints one JSON line: training step (Adam, MSE, batch 16, 224x224x1) and one-face inference,
median milliseconds, on the thread counts given. Run through bench/torch/run.sh.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


class Seed001(nn.Module):
    """The table in seed 001: conv5-32, pool3, conv3-64 + BN, pool3, conv3-128, pool3,
    dropout 0.1/0.2/0.3, dense 512 + BN, dense 2N (Kaiming init)."""

    def __init__(self, n_points=68):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3)
        self.pool = nn.MaxPool2d(3, 3)
        self.d1, self.d2, self.d3 = nn.Dropout(0.1), nn.Dropout(0.2), nn.Dropout(0.3)
        self.fc1 = nn.Linear(128 * 7 * 7, 512)
        self.bn_fc1 = nn.BatchNorm1d(512)
        self.head = nn.Linear(512, 2 * n_points)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.d1(self.pool(torch.relu(self.conv1(x))))
        x = self.d2(self.pool(torch.relu(self.bn2(self.conv2(x)))))
        x = self.d3(self.pool(torch.relu(self.conv3(x))))
        x = torch.flatten(x, 1)
        x = torch.relu(self.bn_fc1(self.fc1(x)))
        return self.head(x)


def median_ms(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    train_threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.manual_seed(0)
    net = Seed001()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(16, 1, 224, 224) * 2 - 1
    y = torch.rand(16, 136) * 2 - 1
    loss_fn = nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    torch.set_num_threads(train_threads)
    net.train()
    step_ms = median_ms(step, reps)
    net.eval()
    face = torch.rand(1, 1, 224, 224) * 2 - 1
    out = {"torch": torch.__version__, "train_threads": train_threads, "step_ms": step_ms}
    # Inference at PyTorch's best on a CPU: its performance guide recommends inference mode and,
    # for a fixed graph, a TorchScript trace frozen with `torch.jit.freeze` (batch norm folded
    # into the convolutions, oneDNN fusions). Each variant is timed and the fastest is the
    # figure compared; all are printed.
    variants = {"eager_no_grad": net}
    with torch.inference_mode():
        try:
            traced = torch.jit.freeze(torch.jit.trace(net, face))
            traced = torch.jit.optimize_for_inference(traced)
            variants["jit_frozen"] = traced
        except Exception as e:  # a build without TorchScript: eager only
            print(f"torch.jit.freeze unavailable: {e}", file=sys.stderr)
    for t in (1, train_threads):
        torch.set_num_threads(t)
        best = None
        for name, model in variants.items():
            with torch.inference_mode():
                ms = median_ms(lambda: model(face), reps * 10, warmup=5)
            out[f"infer_ms_{t}t_{name}"] = ms
            if best is None or ms < best[1]:
                best = (name, ms)
        out[f"infer_ms_{t}t"] = best[1]
        out[f"infer_best_{t}t"] = best[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
