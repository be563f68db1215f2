"""PyTorch side of the step benchmark (src/step/main.ts): the same models, batch and KD loss.

Kept alive by the Node side, which sends one JSON command per line on stdin and reads one JSON
line back, so the two sides run interleaved (A B A B) in one run. Commands:
  {"op": "time", "what": "cnn-kd" | "mlp-kd" | "teacher", "steps": N}  -> {"ms": mean ms per step}
  {"op": "quit"}
A KD step, as the Node side's: the batch gathered from an in-memory set of N examples (N = argv[2],
the Node side's BATCH * steps) in a fresh random order per timed call (an epoch: index_select of
images, labels and teacher logits), student forward, 0.1 * CE + 0.9 * T^2 KL(softmax(t/T) ||
softmax(s/T)) at T = 4 against teacher logits computed for the whole set before the clock starts,
backward, Adam (lr 1e-3). "teacher" times the CNN teacher's forward pass (inference, no grad) on
one fixed batch, as the Node side's.
"""

import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)
BATCH, T = 64, 4.0
N = int(sys.argv[2]) if len(sys.argv) > 2 else BATCH


class CNN(nn.Module):
    def __init__(self, c1, c2, d):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.Linear(c2 * 49, d)
        self.logits = nn.Linear(d, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.logits(F.relu(self.pool(x.flatten(1))))


class MLP(nn.Module):
    def __init__(self, h1, h2):
        super().__init__()
        self.hidden = nn.Linear(784, h1)
        self.pool = nn.Linear(h1, h2)
        self.logits = nn.Linear(h2, 10)

    def forward(self, x):
        return self.logits(F.relu(self.pool(F.relu(self.hidden(x.flatten(1))))))


xs = torch.rand(N, 1, 28, 28)
ys = torch.randint(0, 10, (N,))
teacher = CNN(32, 64, 128).eval()
with torch.no_grad():
    # Batch by batch, as the Node side fills its cache: one forward over all N examples allocates
    # hundreds of MB of activations, and after it this process's CNN steps measured 10-40 % slower
    # (most likely the allocator's state after so large a block), which is not the step compared.
    all_teacher_logits = torch.cat([teacher(xs[i : i + BATCH]) for i in range(0, N, BATCH)])
x = xs[:BATCH]  # the teacher-forward batch
students = {"cnn-kd": CNN(8, 16, 32), "mlp-kd": MLP(64, 32)}
optimizers = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in students.items()}


def kd_step(name, rows):
    model, opt = students[name], optimizers[name]
    bx, by, bt = xs.index_select(0, rows), ys.index_select(0, rows), all_teacher_logits.index_select(0, rows)
    opt.zero_grad(set_to_none=True)
    s = model(bx)
    ce = F.cross_entropy(s, by)
    kl = F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(bt / T, 1), reduction="batchmean", log_target=True)
    (0.1 * ce + 0.9 * T * T * kl).backward()
    opt.step()


def teacher_step(_, rows):
    with torch.no_grad():
        teacher(x)


for line in sys.stdin:
    command = json.loads(line)
    if command["op"] == "quit":
        break
    what, steps = command["what"], command["steps"]
    run = teacher_step if what == "teacher" else kd_step
    order = torch.randperm(N)
    batches = [order[(s * BATCH) % N :][:BATCH] for s in range(steps + 1)]
    run(what, batches[-1])  # untimed
    start = time.perf_counter()
    for s in range(steps):
        run(what, batches[s])
    ms = (time.perf_counter() - start) * 1000 / steps
    print(json.dumps({"ms": ms, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
