#!/usr/bin/python3
"""PyTorch peer of kd-bench's quality run (scratch, KD, CRD shared-negatives) on Fashion-MNIST.

Same architectures (src/quality/models.ts), losses (RepDistiller forms), optimiser (Adam, lr 1e-3),
batch size, split sizes and numbers of steps as the TypeScript run; CPU only.
Run with Debian's python3-torch: /usr/bin/python3 src/peer/peer.py --help
Prints one JSON object on the last line of stdout.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--seeds", default="1")
p.add_argument("--train-size", type=int, default=54000)
p.add_argument("--validation-size", type=int, default=6000)
p.add_argument("--small-size", type=int, default=1800)
p.add_argument("--test-size", type=int, default=10000)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--teacher-epochs", type=int, default=10)
p.add_argument("--batch-size", type=int, default=64)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--temperature", type=float, default=4.0)
p.add_argument("--kd-weight", type=float, default=0.9)
p.add_argument("--crd-weight", type=float, default=0.8)
p.add_argument("--negatives", type=int, default=4096)
p.add_argument("--feature-dim", type=int, default=128)
p.add_argument("--teacher", default="32,64,128")
p.add_argument("--cnn-student", default="8,16,32")
p.add_argument("--mlp-student", default="64,32")
p.add_argument("--pairs", default="cnn,mlp")
p.add_argument("--regimes", default="full,small")
p.add_argument("--methods", default="scratch,kd,crd")
p.add_argument("--threads", type=int, default=1)
args = p.parse_args()
torch.set_num_threads(args.threads)


def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(name):
    for ext in (".gz", ""):
        path = os.path.join(args.data, name + ext)
        if os.path.exists(path):
            return read_idx(path)
    raise FileNotFoundError(name)


xtr = torch.tensor(load("train-images-idx3-ubyte"), dtype=torch.float32).div_(255).unsqueeze(1)
ytr = torch.tensor(load("train-labels-idx1-ubyte"), dtype=torch.long)
xte = torch.tensor(load("t10k-images-idx3-ubyte"), dtype=torch.float32).div_(255).unsqueeze(1)[: args.test_size]
yte = torch.tensor(load("t10k-labels-idx1-ubyte"), dtype=torch.long)[: args.test_size]


def he(layer):
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
    return layer


def glorot(layer):
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class CNN(nn.Module):
    def __init__(self, c1, c2, d):
        super().__init__()
        self.conv1 = he(nn.Conv2d(1, c1, 3, padding=1))
        self.conv2 = he(nn.Conv2d(c1, c2, 3, padding=1))
        self.pool = he(nn.Linear(c2 * 49, d))
        self.logits = glorot(nn.Linear(d, 10))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        f = F.relu(self.pool(x.flatten(1)))
        return self.logits(f), f


class MLP(nn.Module):
    def __init__(self, h1, h2):
        super().__init__()
        self.hidden = he(nn.Linear(784, h1))
        self.pool = he(nn.Linear(h1, h2))
        self.logits = glorot(nn.Linear(h2, 10))

    def forward(self, x):
        f = F.relu(self.pool(F.relu(self.hidden(x.flatten(1)))))
        return self.logits(f), f


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i : i + 1000])[0].argmax(1) == y[i : i + 1000]).sum().item() for i in range(0, len(x), 1000))
    model.train()
    return correct / len(x)


class CRD(nn.Module):
    """CRD with the shared-negatives variant (one set of K negatives per batch), as @kd/crd sampling 'shared'."""

    def __init__(self, s_dim, t_dim, n_data, feat_dim, k, t=0.07, momentum=0.5):
        super().__init__()
        self.embed_s = nn.Linear(s_dim, feat_dim)
        self.embed_t = nn.Linear(t_dim, feat_dim)
        stdv = 1.0 / math.sqrt(feat_dim / 3)
        self.register_buffer("bank_s", torch.rand(n_data, feat_dim).mul_(2 * stdv).add_(-stdv))
        self.register_buffer("bank_t", torch.rand(n_data, feat_dim).mul_(2 * stdv).add_(-stdv))
        self.n, self.k, self.t, self.m = n_data, k, t, momentum
        self.z_s = self.z_t = None

    def nce(self, p):  # p: [B, K+1], positive first
        pn = 1.0 / self.n
        m = self.k
        log_d1 = torch.log(p[:, 0] / (p[:, 0] + m * pn + 1e-7))
        log_d0 = torch.log((m * pn) / (p[:, 1:] + m * pn + 1e-7))
        return -(log_d1.sum() + log_d0.sum()) / p.shape[0]

    def forward(self, f_s, f_t, idx):
        v_s = F.normalize(self.embed_s(f_s), dim=1)
        v_t = F.normalize(self.embed_t(f_t), dim=1)
        mask = torch.ones(self.n, dtype=torch.bool)
        mask[idx] = False
        pool = mask.nonzero().squeeze(1)
        neg = pool[torch.randperm(len(pool))[: self.k]]
        # teacher anchor vs student bank, student anchor vs teacher bank
        out_t = torch.cat([(self.bank_s[idx] * v_t).sum(1, keepdim=True), v_t @ self.bank_s[neg].T], 1).div(self.t).exp()
        out_s = torch.cat([(self.bank_t[idx] * v_s).sum(1, keepdim=True), v_s @ self.bank_t[neg].T], 1).div(self.t).exp()
        if self.z_s is None:
            self.z_t = (out_t.mean() * self.n).item()
            self.z_s = (out_s.mean() * self.n).item()
        loss = self.nce(out_s / self.z_s) + self.nce(out_t / self.z_t)
        with torch.no_grad():
            self.bank_s[idx] = F.normalize(self.bank_s[idx] * self.m + v_s.detach() * (1 - self.m), dim=1)
            self.bank_t[idx] = F.normalize(self.bank_t[idx] * self.m + v_t.detach() * (1 - self.m), dim=1)
        return loss


def kd_loss(s, t, T):
    return F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="sum") * T * T / s.shape[0]


def train(model, x, y, epochs, method="scratch", teacher=None, rounds=1, evalsets=None):
    gen = torch.Generator().manual_seed(torch.initial_seed() % (2**31))
    crd = None
    params = list(model.parameters())
    if "crd" in method:
        with torch.no_grad():
            s_dim = model(x[:1])[1].shape[1]
            t_dim = teacher(x[:1])[1].shape[1]
        crd = CRD(s_dim, t_dim, len(x), args.feature_dim, min(args.negatives, len(x) - args.batch_size - 1))
        params += list(crd.parameters())
    opt = torch.optim.Adam(params, lr=args.lr, eps=1e-7)
    if teacher is not None:
        teacher.eval()
        with torch.no_grad():  # teacher outputs computed once (the same cache as @kd/core's)
            t_logits, t_feat = zip(*(teacher(x[i : i + 1000]) for i in range(0, len(x), 1000)))
            t_logits, t_feat = torch.cat(t_logits), torch.cat(t_feat)
    curve, seconds, steps = [], 0.0, 0
    for r in range(rounds):
        t0 = time.time()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for b in range(0, len(x), args.batch_size):
                idx = order[b : b + args.batch_size]
                logits, feat = model(x[idx])
                if method == "scratch":
                    loss = F.cross_entropy(logits, y[idx])
                elif method == "kd":
                    loss = (1 - args.kd_weight) * F.cross_entropy(logits, y[idx]) + args.kd_weight * kd_loss(logits, t_logits[idx], args.temperature)
                elif method == "crd":
                    loss = F.cross_entropy(logits, y[idx]) + args.crd_weight * crd(feat, t_feat[idx], idx)
                elif method == "kd+crd":
                    loss = F.cross_entropy(logits, y[idx]) + kd_loss(logits, t_logits[idx], args.temperature) + args.crd_weight * crd(feat, t_feat[idx], idx)
                else:
                    raise ValueError(method)
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps += 1
        seconds += time.time() - t0
        if evalsets:
            curve.append({"step": steps, "test": accuracy(model, *evalsets["test"]), "validation": accuracy(model, *evalsets["validation"])})
    return {"seconds": seconds, "steps": steps, "curve": curve, "samplesPerSecond": steps * args.batch_size / max(seconds, 1e-9)}


results = {"teachers": [], "runs": [], "threads": args.threads, "torch": torch.__version__}
full_steps = math.ceil(args.train_size / args.batch_size)
small_steps = math.ceil(args.small_size / args.batch_size)
for seed in [int(s) for s in args.seeds.split(",")]:
    torch.manual_seed(seed)
    perm = torch.randperm(len(xtr))
    val_idx = perm[: args.validation_size]
    pool_idx = perm[args.validation_size : args.validation_size + args.train_size]
    small_idx = pool_idx[torch.randperm(len(pool_idx))[: args.small_size]]
    xv, yv = xtr[val_idx], ytr[val_idx]
    sets = {"test": (xte, yte), "validation": (xv, yv)}
    teacher = CNN(*map(int, args.teacher.split(",")))
    t = train(teacher, xtr[pool_idx], ytr[pool_idx], args.teacher_epochs)
    t_acc = accuracy(teacher, xte, yte)
    results["teachers"].append({"seed": seed, "test": t_acc, "seconds": t["seconds"]})
    print(f"seed {seed}: teacher test {t_acc * 100:.2f} % in {t['seconds']:.0f} s", flush=True)
    for pair in args.pairs.split(","):
        for regime in args.regimes.split(","):
            idx = pool_idx if regime == "full" else small_idx
            per_round = 1 if regime == "full" else max(1, round(full_steps / small_steps))
            for method in args.methods.split(","):
                torch.manual_seed(seed * 1000 + 500)
                student = CNN(*map(int, args.cnn_student.split(","))) if pair == "cnn" else MLP(*map(int, args.mlp_student.split(",")))
                r = train(student, xtr[idx], ytr[idx], per_round, method, teacher if method != "scratch" else None, args.epochs, sets)
                rec = {"seed": seed, "pair": pair, "regime": regime, "method": method, "steps": r["steps"], "curve": r["curve"],
                       "lastTest": r["curve"][-1]["test"], "bestTest": max(c["test"] for c in r["curve"]),
                       "trainSeconds": r["seconds"], "samplesPerSecond": r["samplesPerSecond"]}
                results["runs"].append(rec)
                print(f"seed {seed} {pair} {regime} {method}: last {rec['lastTest'] * 100:.2f} % best {rec['bestTest'] * 100:.2f} % {r['samplesPerSecond']:.0f} samples/s", flush=True)
print(json.dumps(results))
