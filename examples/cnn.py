"""The seed CNN (3x24x24 images, 10 classes), written as an ordinary PyTorch script.

    python examples/cnn.py                  # fastnn (``import fastnn as torch``)
    python examples/cnn.py --lib torch      # the same script under PyTorch
    python examples/cnn.py --compare --plot docs/examples/cnn.png
    python examples/cnn.py --epochs 3 --save cnn.ckpt && python examples/cnn.py --resume cnn.ckpt

Conv2d(3,32,3,p=1) -> ReLU -> MaxPool2d(2,2) -> Conv2d(32,64,3,p=1) -> ReLU -> MaxPool2d(2,2)
-> Linear(64*6*6,128) -> ReLU -> Linear(128,10), SGD with momentum 0.9. The images are
synthetic: each class a fixed random smooth pattern, shifted by up to 3 pixels, plus noise
(fixed NumPy seed, so both libraries see the same images).
"""

import time

import common
import numpy as np

p = common.parser(__doc__, epochs=6, batch=64, lr=0.01, samples=2000)
p.add_argument("--time", action="store_true", help="report the median training-step time")
args = common.parse(p)
TITLE = "CNN, 3x24x24 images, 10 classes"
if args.compare:
    raise SystemExit(common.compare(__file__, args, TITLE))

if args.lib == "fastnn":
    import fastnn as torch
    import fastnn.nn as nn
    import fastnn.nn.functional as F
    import fastnn.optim as optim
    from fastnn.utils.data import DataLoader, TensorDataset
else:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.utils.data import DataLoader, TensorDataset

CLASSES = 10


class SeedCNN(nn.Module):
    def __init__(self, classes=CLASSES):
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


def make_data(n, seed):
    """Images (n, 3, 24, 24) float32 and labels (n,) int64: each class a random 3x6x6 field
    upsampled to 24x24, rolled by -3..3 pixels each way, plus per-pixel noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((CLASSES, 3, 6, 6)).repeat(4, axis=2).repeat(4, axis=3)
    labels = rng.integers(0, CLASSES, n)
    x = patterns[labels]
    shifts = rng.integers(-3, 4, (n, 2))
    for i, (dy, dx) in enumerate(shifts):
        x[i] = np.roll(x[i], (dy, dx), axis=(1, 2))
    x = x + 3.0 * rng.standard_normal((n, 3, 24, 24))
    return x.astype(np.float32), labels.astype(np.int64)


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, val, test = common.split(*make_data(args.samples, args.seed), seed=args.seed)
    loader = DataLoader(TensorDataset(*map(torch.from_numpy, train)), batch_size=args.batch,
                        shuffle=True)
    model = SeedCNN()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    state = dict(model=model, optimizer=optimizer)
    start, history = 0, {}
    if args.resume:
        start, history = common.load_checkpoint(torch, args.resume, **state)

    bar = common.progress(args, start, len(loader))
    step_times = []
    for epoch in range(start, args.epochs):
        torch.manual_seed(args.seed + epoch)  # this epoch's shuffle: resumable
        model.train()
        loss_sum, correct = 0.0, 0
        for xb, yb in loader:
            t0 = time.perf_counter()
            optimizer.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            step_times.append(time.perf_counter() - t0)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            bar.update()
        val_loss, val_logits = common.evaluate(torch, model, F.cross_entropy, *val)
        common.end_epoch(args, bar, history, epoch,
                         loss=loss_sum / len(train[1]), accuracy=correct / len(train[1]),
                         val_loss=val_loss, val_accuracy=np.mean(val_logits.argmax(1) == val[1]))
        if args.save:
            common.save_checkpoint(torch, args.save, epoch + 1, history, **state)
    bar.close()

    _, test_logits = common.evaluate(torch, model, F.cross_entropy, *test)
    metrics = common.classification_metrics(test[1], test_logits.argmax(1),
                                            [f"pattern {c}" for c in range(CLASSES)])
    if args.time and step_times:
        steady = sorted(step_times[min(5, len(step_times) - 1):])
        print(f"{args.lib}: median step {1e3 * steady[len(steady) // 2]:.2f} ms "
              f"(batch {args.batch})")
    common.finish(args, history, metrics, TITLE)


if __name__ == "__main__":
    main()
