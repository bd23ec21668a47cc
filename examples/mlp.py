"""An MLP classifier on synthetic 20-feature data with 4 classes, as an ordinary PyTorch script.

    python examples/mlp.py                   # fastnn (``import fastnn as torch``)
    python examples/mlp.py --lib torch       # the same script under PyTorch
    python examples/mlp.py --compare --plot docs/examples/mlp.png
    python examples/mlp.py --epochs 5 --save mlp.ckpt && \\
        python examples/mlp.py --resume mlp.ckpt --epochs 10

Linear(20,64) -> ReLU -> Dropout -> Linear(64,64) -> GELU -> LayerNorm -> Linear(64,4), trained
with AdamW, label smoothing, gradient clipping and an exponentially decaying learning rate. The
data are Gaussian clusters (two per class) pushed through a fixed nonlinearity (fixed NumPy seed).
"""

import common
import numpy as np

p = common.parser(__doc__, epochs=12, batch=64, lr=1e-3, samples=4000)
args = common.parse(p)
TITLE = "MLP, 4 classes"
if args.compare:
    raise SystemExit(common.compare(__file__, args, TITLE))

if args.lib == "fastnn":
    import fastnn as torch
    import fastnn.nn as nn
    import fastnn.optim as optim
    from fastnn.utils.data import DataLoader, TensorDataset
else:
    import torch
    import torch.nn as nn
    import torch.optim as optim
    from torch.utils.data import DataLoader, TensorDataset

FEATURES, CLASSES = 20, 4


def make_data(n, seed):
    """x (n, 20) float32 and labels (n,) int64."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((2 * CLASSES, FEATURES)) * 0.6  # two clusters per class
    cluster = rng.integers(0, 2 * CLASSES, size=n)
    labels = cluster % CLASSES
    x = centers[cluster] + rng.standard_normal((n, FEATURES))
    x = np.tanh(x) + 0.1 * x**2
    return x.astype(np.float32), labels.astype(np.int64)


class MLP(nn.Module):
    def __init__(self, d_in, hidden, classes, p_drop=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.net(x)


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, val, test = common.split(*make_data(args.samples, args.seed), seed=args.seed)
    loader = DataLoader(TensorDataset(*map(torch.from_numpy, train)), batch_size=args.batch,
                        shuffle=True)
    model = MLP(FEATURES, 64, CLASSES)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    # a schedule that does not depend on --epochs, so that a resumed run with a larger --epochs
    # continues it (a cosine over T_max=epochs would have reached its minimum at the checkpoint)
    scheduler = optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.85)
    state = dict(model=model, optimizer=optimizer, scheduler=scheduler)
    start, history = 0, {}
    if args.resume:
        start, history = common.load_checkpoint(torch, args.resume, **state)

    bar = common.progress(args, start, len(loader))
    for epoch in range(start, args.epochs):
        torch.manual_seed(args.seed + epoch)  # this epoch's shuffle and dropout: resumable
        model.train()
        loss_sum, correct = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            bar.update()
        scheduler.step()
        val_loss, val_logits = common.evaluate(torch, model, criterion, *val)
        common.end_epoch(args, bar, history, epoch,
                         loss=loss_sum / len(train[1]), accuracy=correct / len(train[1]),
                         val_loss=val_loss, val_accuracy=np.mean(val_logits.argmax(1) == val[1]))
        if args.save:
            common.save_checkpoint(torch, args.save, epoch + 1, history, **state)
    bar.close()

    _, test_logits = common.evaluate(torch, model, criterion, *test)
    metrics = common.classification_metrics(test[1], test_logits.argmax(1),
                                            [f"class {c}" for c in range(CLASSES)])
    common.finish(args, history, metrics, TITLE)


if __name__ == "__main__":
    main()
