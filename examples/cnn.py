"""The seed CNN (3x24x24 images, 10 classes), written as an ordinary PyTorch script.

    python examples/cnn.py                  # fastnn (``import fastnn as torch``)
    python examples/cnn.py --lib torch      # the same script under PyTorch
    python examples/cnn.py --time           # also report the mean training-step time

Conv2d(3,32,3,p=1) -> ReLU -> MaxPool2d(2,2) -> Conv2d(32,64,3,p=1) -> ReLU -> MaxPool2d(2,2)
-> Linear(64*6*6,128) -> ReLU -> Linear(128,10), SGD with momentum 0.9. The data is synthetic
(each class a fixed random smooth pattern plus noise; fixed NumPy seed), so both frameworks see
exactly the same batches; tests/test_conv2d_modules.py compares their loss curves.
"""

import argparse
import time

import numpy as np

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--lib", choices=("fastnn", "torch"), default="fastnn")
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--threads", type=int, default=0, help="0: leave the default")
parser.add_argument("--time", action="store_true", help="report the mean step time")
args = parser.parse_args()

if args.lib == "fastnn":
    import fastnn as torch
    import fastnn.nn as nn
    import fastnn.nn.functional as F
    import fastnn.optim as optim
else:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim


class SeedCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 6 * 6, 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def make_data(n, classes=10, seed=0):
    """Class patterns: random 3x6x6 fields upsampled to 24x24, plus per-sample noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((classes, 3, 6, 6)).repeat(4, axis=2).repeat(4, axis=3)
    labels = rng.integers(0, classes, n)
    x = patterns[labels] + 1.5 * rng.standard_normal((n, 3, 24, 24))
    return x.astype(np.float32), labels.astype(np.int64)


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = SeedCNN()
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    xs, ys = make_data(args.steps * args.batch, seed=args.seed)
    times = []
    for step in range(args.steps):
        lo = step * args.batch
        x = torch.tensor(xs[lo:lo + args.batch])
        y = torch.tensor(ys[lo:lo + args.batch])
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            print(f"step {step:4d} loss {loss.item():.4f}")
    if args.time:
        steady = sorted(times[min(5, len(times) - 1):])
        print(f"{args.lib}: median step {1e3 * steady[len(steady) // 2]:.2f} ms "
              f"(batch {args.batch})")


if __name__ == "__main__":
    main()
