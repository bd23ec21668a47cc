"""An LSTM text classifier on synthetic "documents", written as an ordinary PyTorch script.

    python examples/lstm_text.py                  # fastnn (``import fastnn as torch``)
    python examples/lstm_text.py --lib torch      # the same script under PyTorch
    python examples/lstm_text.py --compare --plot docs/examples/lstm_text.png
    python examples/lstm_text.py --epochs 3 --save lstm.ckpt && \\
        python examples/lstm_text.py --resume lstm.ckpt

Embedding(10000, 64) -> LSTM(64, 128, batch_first=True) -> Linear(128, 64) -> ReLU -> Dropout(0.5)
-> Linear(64, 3) on the last hidden state, trained with Adam. Each class has 20 "keyword" tokens
sprinkled into random text (70% of the sprinkled keywords belong to the document's class, the
rest to random classes); the label is the class whose keywords occur most.
"""

import common
import numpy as np

p = common.parser(__doc__, epochs=6, batch=64, lr=2e-3, samples=3000)
p.add_argument("--seq-len", type=int, default=40, help="tokens per document")
args = common.parse(p)
TITLE = "LSTM text classifier, 3 classes"
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

VOCAB, CLASSES = 10000, 3


def make_data(n, seq_len, seed):
    """Token ids (n, seq_len) int64 and labels (n,) int64."""
    rng = np.random.default_rng(seed)
    keywords = np.arange(CLASSES * 20).reshape(CLASSES, 20) + 1  # tokens 1..60 carry the signal
    tokens = rng.integers(100, VOCAB, size=(n, seq_len))
    labels = rng.integers(0, CLASSES, size=n)
    for i in range(n):
        slots = rng.choice(seq_len, size=max(2, seq_len // 5), replace=False)
        cls = np.where(
            rng.random(len(slots)) < 0.7, labels[i], rng.integers(0, CLASSES, len(slots))
        )
        tokens[i, slots] = keywords[cls, rng.integers(0, 20, len(slots))]
        labels[i] = int(np.argmax(np.bincount(cls, minlength=CLASSES)))
    return tokens.astype(np.int64), labels.astype(np.int64)


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 64)
        self.lstm = nn.LSTM(64, 128, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(64, CLASSES),
        )

    def forward(self, tokens):
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        return self.head(h_n[-1])


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, val, test = common.split(*make_data(args.samples, args.seq_len, args.seed),
                                    seed=args.seed)
    loader = DataLoader(TensorDataset(*map(torch.from_numpy, train)), batch_size=args.batch,
                        shuffle=True)
    model = TextClassifier()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    state = dict(model=model, optimizer=optimizer)
    start, history = 0, {}
    if args.resume:
        start, history = common.load_checkpoint(torch, args.resume, **state)

    bar = common.progress(args, start, len(loader))
    for epoch in range(start, args.epochs):
        torch.manual_seed(args.seed + epoch)  # this epoch's shuffle and dropout: resumable
        model.train()
        loss_sum, correct = 0.0, 0
        for tokens, labels in loader:
            optimizer.zero_grad()
            logits = model(tokens)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum().item()
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
                                            ["class A", "class B", "class C"])
    common.finish(args, history, metrics, TITLE)


if __name__ == "__main__":
    main()
