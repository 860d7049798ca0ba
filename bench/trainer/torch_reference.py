"""The bench_trainer and bench_kernels reference: the same MoE transformer in
PyTorch eager, on the CPU (--device cpu) or a GPU (--device cuda).

Same model as moesweep's trainer (RMSNorm, causal attention with rotate-half
RoPE, softmax router with top-k, load-balancing and z losses, SwiGLU experts
with fused gate/up weights, untied LM head), fp32 (no TF32), AdamW, same
batch. Run by build/bin/bench_trainer under Debian's /usr/bin/python3 with
OMP_WAIT_POLICY=PASSIVE (BENCH.md), and by bench_kernels on a GPU machine.
Prints one line: tokens_per_second=<v>.
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(c))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


def rope(x, cos, sin):
    h2 = x.shape[-1] // 2
    a, b = x[..., :h2], x[..., h2:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        c, e, h = a.d_model, a.experts, a.expert_hidden
        self.a = a
        self.ln1, self.ln2 = RMSNorm(c), RMSNorm(c)
        self.wqkv = torch.nn.Linear(c, 3 * c, bias=False)
        self.wo = torch.nn.Linear(c, c, bias=False)
        self.router = torch.nn.Linear(c, e, bias=False)
        self.w13 = torch.nn.Parameter(torch.randn(e, c, 2 * h) * 0.02)
        self.w2 = torch.nn.Parameter(torch.randn(e, h, c) * 0.02)

    def attention(self, x, cos, sin):
        B, T, C = x.shape
        nh = self.a.heads
        q, k, v = self.wqkv(x).split(C, dim=2)
        q = rope(q.view(B, T, nh, C // nh).transpose(1, 2), cos, sin)
        k = rope(k.view(B, T, nh, C // nh).transpose(1, 2), cos, sin)
        v = v.view(B, T, nh, C // nh).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // nh)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        return self.wo((att @ v).transpose(1, 2).reshape(B, T, C))

    def moe(self, x):
        B, T, C = x.shape
        xf = x.reshape(-1, C)
        logits = self.router(xf)
        probs = logits.softmax(-1)
        gate, expert = probs.topk(self.a.top_k, dim=-1)
        E, K, N = self.a.experts, self.a.top_k, xf.shape[0]
        counts = torch.bincount(expert.flatten(), minlength=E).float()
        aux = E * ((counts / (N * K)) * probs.mean(0)).sum()
        z = torch.logsumexp(logits, -1).pow(2).mean()
        out = torch.zeros_like(xf)
        flat_expert = expert.flatten()
        flat_token = torch.arange(N, device=x.device).repeat_interleave(K)
        flat_gate = gate.flatten()
        order = torch.argsort(flat_expert, stable=True)
        tokens, gates = flat_token[order], flat_gate[order]
        start = 0
        for e, n in enumerate(counts.long().tolist()):
            if n == 0:
                continue
            idx = tokens[start:start + n]
            h = xf[idx] @ self.w13[e]
            g, u = h.chunk(2, dim=-1)
            y = (F.silu(g) * u) @ self.w2[e]
            out.index_add_(0, idx, y * gates[start:start + n, None])
            start += n
        return out.view(B, T, C), aux, z

    def forward(self, x, cos, sin):
        x = x + self.attention(self.ln1(x), cos, sin)
        y, aux, z = self.moe(self.ln2(x))
        return x + y, aux, z


class Model(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.wte = torch.nn.Embedding(a.vocab, a.d_model)
        self.blocks = torch.nn.ModuleList(Block(a) for _ in range(a.layers))
        self.lnf = RMSNorm(a.d_model)
        self.head = torch.nn.Linear(a.d_model, a.vocab, bias=False)
        hs = a.d_model // a.heads
        freq = a.rope_theta ** (-2.0 * torch.arange(hs // 2) / hs)
        ang = torch.arange(a.seq)[:, None] * freq[None, :]
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    def forward(self, idx, targets):
        x = self.wte(idx)
        aux_total = z_total = 0.0
        for block in self.blocks:
            x, aux, z = block(x, self.cos, self.sin)
            aux_total, z_total = aux_total + aux, z_total + z
        logits = self.head(self.lnf(x))
        ce = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return ce + 0.01 * aux_total + 0.001 * z_total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--autocast", default="none",
                   help="none, or bf16: the forward under torch.autocast, "
                        "fp32 weights (PyTorch's mixed precision)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d_model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--top_k", type=int, default=2)
    p.add_argument("--expert_hidden", type=int, default=256)
    p.add_argument("--rope_theta", type=float, default=10000.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32, as moesweep's
    torch.manual_seed(1)
    device = torch.device(a.device)
    model = Model(a).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95),
                            weight_decay=0.1)
    times = []
    for step in range(a.warmup + a.steps):
        idx = torch.randint(0, a.vocab, (a.batch, a.seq), device=device)
        targets = torch.randint(0, a.vocab, (a.batch, a.seq), device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=a.autocast == "bf16"):
            loss = model(idx, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= a.warmup:
            times.append(time.perf_counter() - start)
    print("tokens_per_second=%.1f" % (a.batch * a.seq / statistics.median(times)))


if __name__ == "__main__":
    main()
