"""Linear regression on synthetic data (y = X w + 0.5 + noise), as an ordinary PyTorch script.

    python examples/linear_regression.py                  # fastnn (``import fastnn as torch``)
    python examples/linear_regression.py --lib torch      # the same script under PyTorch
    python examples/linear_regression.py --compare --plot docs/examples/linear_regression.png
    python examples/linear_regression.py --epochs 4 --save lr.ckpt && \\
        python examples/linear_regression.py --resume lr.ckpt

nn.Linear(16, 1) trained with SGD (momentum 0.9) on MSELoss, with a StepLR schedule. The curves
show the mean squared error and R² (1 - MSE / variance of y); the noise variance, 1.0, is the
lowest MSE any model can reach (R² about 0.94 on this data).
"""

import common
import numpy as np

p = common.parser(__doc__, epochs=12, batch=64, lr=0.002, samples=3000)
args = common.parse(p)
TITLE = "linear regression, 16 features"
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

FEATURES = 16


def make_data(n, seed, noise=1.0):
    """X (n, 16) and y (n, 1), float32."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, FEATURES))
    w = rng.standard_normal((FEATURES, 1))
    y = X @ w + 0.5 + noise * rng.standard_normal((n, 1))
    return X.astype(np.float32), y.astype(np.float32)


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, val, test = common.split(*make_data(args.samples, args.seed), seed=args.seed)
    loader = DataLoader(TensorDataset(*map(torch.from_numpy, train)), batch_size=args.batch,
                        shuffle=True)
    model = nn.Linear(FEATURES, 1)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.3)
    state = dict(model=model, optimizer=optimizer, scheduler=scheduler)
    start, history = 0, {}
    if args.resume:
        start, history = common.load_checkpoint(torch, args.resume, **state)

    bar = common.progress(args, start, len(loader))
    for epoch in range(start, args.epochs):
        torch.manual_seed(args.seed + epoch)  # this epoch's shuffle: resumable
        model.train()
        loss_sum = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(yb)
            bar.update()
        scheduler.step()
        train_mse = loss_sum / len(train[1])
        val_mse, _ = common.evaluate(torch, model, criterion, *val)
        common.end_epoch(args, bar, history, epoch,
                         loss=train_mse, r2=1 - train_mse / np.var(train[1]),
                         val_loss=val_mse, val_r2=1 - val_mse / np.var(val[1]))
        if args.save:
            common.save_checkpoint(torch, args.save, epoch + 1, history, **state)
    bar.close()

    _, test_pred = common.evaluate(torch, model, criterion, *test)
    metrics = common.regression_metrics(test[1], test_pred)
    if not args.quiet:
        print(f"learned bias {model.bias.item():.4f} (true 0.5)")
    common.finish(args, history, metrics, TITLE)


if __name__ == "__main__":
    main()
