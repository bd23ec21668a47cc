"""What the five examples share, so that each script shows only its data, model and training loop.

The command-line flags, the train / validation / test split, the progress bar (tqdm), the final
test metrics (scikit-learn), the curves (matplotlib), checkpoints (``torch.save``/``torch.load``,
i.e. ``fastnn.save``/``fastnn.load`` under fastnn) and ``--compare`` (run the script under both
libraries and draw both runs on the same axes). Nothing here imports torch or fastnn: the
functions that need the library take the imported module as their first argument.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from tqdm import tqdm

LIBS = ("fastnn", "torch")


def parser(doc, *, epochs, batch, lr, samples):
    """The flags every example takes, with the example's own defaults; add more to the result."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--lib", choices=LIBS, default="fastnn", help="the library to train with")
    p.add_argument("--epochs", type=int, default=epochs, help="total epochs (a resumed run "
                   "trains the epochs its checkpoint has not done yet)")
    p.add_argument("--batch", type=int, default=batch, help="batch size")
    p.add_argument("--lr", type=float, default=lr, help="learning rate")
    p.add_argument("--samples", type=int, default=samples,
                   help="size of the generated data set, split 70/15/15 into train/val/test")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, the initial weights "
                   "and each epoch's shuffling and dropout")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: the default)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no per-epoch lines; only the test metrics")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the training/validation loss and accuracy curves")
    p.add_argument("--compare", action="store_true", help="run under fastnn and torch (one "
                   "process each) and draw both on the same axes of --plot")
    p.add_argument("--save", metavar="CKPT", help="write model/optimizer state after every epoch")
    p.add_argument("--resume", metavar="CKPT", help="continue from a --save checkpoint")
    p.add_argument("--history", metavar="FILE.json",
                   help="write the per-epoch curves and the test metrics as JSON")
    return p


def parse(p, argv=None):
    args = p.parse_args(argv)
    if args.compare and (args.save or args.resume or args.history):
        p.error("--compare trains both libraries from scratch; it takes no --save/--resume/"
                "--history")
    if args.epochs < 1 or args.batch < 1 or args.samples < 20:
        p.error("--epochs and --batch must be >= 1 and --samples >= 20")
    return args


def split(*arrays, seed, fractions=(0.7, 0.15)):
    """Shuffle the rows of ``arrays`` (NumPy, same length) and cut them into train, validation
    and test parts: returns three tuples of arrays. NumPy does it, so both libraries see the
    same three sets."""
    n = len(arrays[0])
    order = np.random.default_rng(seed + 1).permutation(n)
    a = int(fractions[0] * n)
    b = a + int(fractions[1] * n)
    parts = order[:a], order[a:b], order[b:]
    return tuple(tuple(x[idx] for x in arrays) for idx in parts)


def progress(args, epochs_done, steps_per_epoch):
    """A tqdm bar over all training steps; a resumed run starts it where the checkpoint stopped.
    Off with --quiet, or when stderr is not a terminal (CI logs keep the per-epoch lines)."""
    return tqdm(
        total=args.epochs * steps_per_epoch,
        initial=epochs_done * steps_per_epoch,
        desc=args.lib,
        unit="step",
        disable=args.quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def evaluate(torch, model, criterion, x, y, batch=256):
    """Mean loss and the model's outputs (NumPy) over NumPy inputs ``x``, targets ``y``, in eval
    mode without autograd."""
    model.eval()
    outputs, loss_sum = [], 0.0
    with torch.no_grad():
        for lo in range(0, len(x), batch):
            out = model(torch.from_numpy(x[lo : lo + batch]))
            target = torch.from_numpy(y[lo : lo + batch])
            loss_sum += criterion(out, target).item() * len(target)
            outputs.append(out.numpy())
    model.train()
    return loss_sum / len(x), np.concatenate(outputs)


def end_epoch(args, bar, history, epoch, **metrics):
    """Append this epoch's numbers to ``history`` (Keras' names: loss, accuracy, val_loss, ...)
    and print them above the bar."""
    for key, value in metrics.items():
        history.setdefault(key, []).append(float(value))
    line = "  ".join(f"{k} {float(v):.4f}" for k, v in metrics.items())
    # the bar keeps the latest validation numbers only: the whole line leaves no room for the bar
    bar.set_postfix_str("  ".join(f"{k} {float(v):.3f}" for k, v in metrics.items()
                                  if k.startswith("val_")), refresh=False)
    if not args.quiet:
        tqdm.write(f"epoch {epoch + 1:3d}/{args.epochs}  {line}")


def save_checkpoint(torch, path, epoch, history, **state):
    """``torch.save`` of the epochs done, the curves so far and each ``state`` object's
    state_dict (model=..., optimizer=..., scheduler=...)."""
    ckpt = {"epoch": epoch, "history": history}
    ckpt.update({name: obj.state_dict() for name, obj in state.items()})
    tmp = f"{path}.tmp"  # then rename: a run stopped mid-write keeps the previous checkpoint
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def load_checkpoint(torch, path, **state):
    """Restore each ``state`` object from a ``save_checkpoint`` file; returns (epochs done,
    history)."""
    ckpt = torch.load(path)
    for name, obj in state.items():
        obj.load_state_dict(ckpt[name])
    return int(ckpt["epoch"]), {k: [float(v) for v in vs] for k, vs in ckpt["history"].items()}


def classification_metrics(y_true, y_pred, names):
    """Print scikit-learn's per-class and macro precision/recall/F1 table; return the summary."""
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        precision_recall_fscore_support,
    )

    labels = list(range(len(names)))
    print(classification_report(y_true, y_pred, labels=labels, target_names=names, digits=3,
                                zero_division=0))
    p, r, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                  average="macro", zero_division=0)
    return {"accuracy": accuracy_score(y_true, y_pred), "macro_precision": p,
            "macro_recall": r, "macro_f1": f1}


def regression_metrics(y_true, y_pred):
    from sklearn.metrics import mean_squared_error, r2_score

    out = {"mse": mean_squared_error(y_true, y_pred), "r2": r2_score(y_true, y_pred)}
    print(f"test MSE {out['mse']:.5f}  R^2 {out['r2']:.4f}")
    return out


def finish(args, history, test_metrics, title):
    """After training: print the test metrics, write --history and --plot."""
    test_metrics = {k: float(v) for k, v in test_metrics.items()}
    print(f"{args.lib} test: " + "  ".join(f"{k} {v:.4f}" for k, v in test_metrics.items()))
    if args.history:
        with open(args.history, "w") as fh:
            json.dump({"lib": args.lib, "history": history, "test": test_metrics}, fh, indent=1)
    if args.plot:
        plot(args.plot, {args.lib: {"history": history, "test": test_metrics}}, title)


def plot(path, runs, title):
    """Two panels, loss and the accuracy-like metric, training solid and validation dashed, one
    colour per library. ``runs``: {lib: {"history": ..., "test": ...}}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=90)
    metric = "accuracy"
    for (lib, run), colour in zip(runs.items(), ("tab:blue", "tab:orange")):
        h = run["history"]
        metric = next(k for k in h if k != "loss" and not k.startswith("val_"))
        epochs = np.arange(1, len(h["loss"]) + 1)
        test = run.get("test", {}).get(metric)
        tag = f" (test {test:.3f})" if test is not None else ""
        ax_loss.plot(epochs, h["loss"], "-o", ms=3, color=colour, label=f"{lib} train")
        ax_loss.plot(epochs, h["val_loss"], "--s", ms=3, color=colour, label=f"{lib} validation")
        ax_metric.plot(epochs, h[metric], "-o", ms=3, color=colour, label=f"{lib} train")
        ax_metric.plot(epochs, h["val_" + metric], "--s", ms=3, color=colour,
                       label=f"{lib} validation{tag}")
    ax_loss.set_title("loss")
    ax_metric.set_title("R²" if metric == "r2" else metric)
    if metric == "r2":  # the MSE falls by orders of magnitude in the first epochs
        ax_loss.set_yscale("log")
    for ax in (ax_loss, ax_metric):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _strip(argv, flags, valued):
    """argv without ``flags`` and without ``valued`` options and their values."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in flags or a.split("=")[0] in valued and "=" in a:
            pass
        elif a in valued:
            skip = True
        else:
            out.append(a)
    return out


def compare(script, args, title, argv=None):
    """Run ``script`` once per library in its own process with the same flags, then draw both
    runs on the same axes (--plot). Returns the exit status."""
    argv = _strip(sys.argv[1:] if argv is None else argv, {"--compare"}, {"--lib", "--plot"})
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lib in LIBS:
            hist = os.path.join(tmp, lib + ".json")
            cmd = [sys.executable, script, *argv, "--lib", lib, "--history", hist]
            print("+ " + " ".join(cmd[1:-2]), flush=True)
            if subprocess.run(cmd).returncode:
                return 1
            with open(hist) as fh:
                runs[lib] = json.load(fh)
    if args.plot:
        plot(args.plot, runs, title)
        print(f"wrote {args.plot}")
    return 0
