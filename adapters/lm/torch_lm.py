"""`TorchCausalLM`: the `Trainable` implementation shared by every transformers causal LM.

Subclasses only say how to obtain (model, tokenizer) in `_load`; training steps, per-token
losses, greedy generation, parameter counting and provenance live here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from memeval.adapters.lm.base import pad_batch
from memeval.adapters.lm.lm_methods import TokenLM, log_softmax_at
from memeval.contracts import (Setting, SystemContext, SystemKind, TokenizerLike, Trainable,
                               TrainConfig)


def _cache_arg(model: Any) -> str:
    """transformers 5.x renamed `past_key_values` to `cache` (the old name warns, then goes)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"


def _cache_of(res: Any) -> Any:
    return res.cache if hasattr(res, "cache") else res.past_key_values


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def torch_targets(model: Any, seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device,
                  batch_size: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per sequence: float32 log-softmax log p of tokens 1.. and greedy flags (TokenLM hook).
    Similar lengths batch together, right-padded (exact under causal attention)."""
    out: list[Any] = [None] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        ids, mask = pad_batch([seqs[i] for i in idx], pad_id)
        x = torch.from_numpy(ids).to(device)
        full = bool(mask.all())
        logits = model(input_ids=x, attention_mask=None if full else
                       torch.from_numpy(mask).to(device)).logits[:, :-1].float()
        for row, i in enumerate(idx):
            n = len(seqs[i]) - 1
            out[i] = log_softmax_at(logits[row, :n].cpu().numpy(), ids[row, 1:n + 1])
    return out


class TorchCausalLM(TokenLM):
    name: ClassVar[str] = "torch-causal-lm"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "trainable"
    setting: ClassVar[Setting] = "parametric-only"
    from_scratch: ClassVar[bool] = False  # True: prepare() gives random weights

    def __init__(self, ctx: SystemContext | None = None, device: str = "auto",
                 threads: int | None = None, **options: Any) -> None:
        self.ctx = ctx
        self.seed = ctx.seed if ctx is not None else 0
        self.options: dict[str, Any] = {"device": device, "threads": threads, **options}
        self.threads = int(threads) if threads else None
        self.device = pick_device(device)
        self.model: Any = None
        self.tokenizer: TokenizerLike = None  # type: ignore[assignment]  # set by prepare()
        self.max_length = 512
        self.phases: list[dict[str, Any]] = []
        self._opt: torch.optim.Optimizer | None = None
        self._cfg: TrainConfig | None = None
        self._total = 0
        self._prepared_seed: int | None = None

    # ---- subclass hook ----
    def _load(self, corpus: Iterable[str] | None, seed: int) -> tuple[Any, TokenizerLike]:
        raise NotImplementedError

    # ---- lifecycle ----
    def prepare(self, corpus: Iterable[str] | None = None, seed: int | None = None) -> None:
        seed = self.seed if seed is None else int(seed)
        if self.threads and self.device.type == "cpu":
            torch.set_num_threads(self.threads)  # process-wide: torch has no per-model setting
        torch.manual_seed(seed)  # fresh inits are a function of the seed alone
        self._opt, self._cfg, self.phases = None, None, []
        self.model, self.tokenizer = self._load(corpus, seed)
        self.model.to(self.device)
        self.model.eval()
        self._prepared_seed = seed

    def variant(self, **options: Any) -> Trainable:
        return type(self)(self.ctx, **{**self.options, **options})

    def _need_model(self) -> None:
        if self.model is None:
            raise RuntimeError(f"{self.name}: call prepare() before using the model")

    # ---- training ----
    def configure(self, cfg: TrainConfig, total_steps: int) -> None:
        self._need_model()
        if cfg.optimizer != "adamw":
            raise ValueError(f"unsupported optimizer {cfg.optimizer!r} (adamw)")
        decay, rest = [], []
        for p in self.model.parameters():
            if p.requires_grad:
                (decay if p.dim() >= 2 else rest).append(p)  # no decay on biases and norms
        groups = [{"params": decay, "weight_decay": cfg.weight_decay},
                  {"params": rest, "weight_decay": 0.0}]
        self._opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
        self._cfg, self._total = cfg, int(total_steps)
        self.phases.append({**cfg.to_dict(), "total_steps": int(total_steps), "steps": 0,
                            "tokens": 0, "sequences": 0})

    def train_step(self, batch: Sequence[Sequence[int]]) -> float:
        if self._opt is None or self._cfg is None:
            raise RuntimeError("configure() a training phase before train_step()")
        phase = self.phases[-1]
        factor = self._cfg.lr_factor(phase["steps"], self._total)
        for g in self._opt.param_groups:
            g["lr"] = self._cfg.lr * factor
        self.model.train()
        tok_loss, mask = self._token_loss_tensor(batch)
        n = mask.sum()
        loss = (tok_loss * mask).sum() / n.clamp(min=1)
        loss.backward()
        if self._cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self._cfg.grad_clip)
        self._opt.step()
        self._opt.zero_grad(set_to_none=True)
        self.model.eval()
        phase["steps"] += 1
        phase["tokens"] += int(n.item())
        phase["sequences"] += len(batch)
        return float(loss.item())

    def _token_loss_tensor(self, batch: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T-1) losses of tokens 1.. given their prefixes, and the mask of real tokens."""
        ids, mask = pad_batch(batch, self.tokenizer.pad_id)
        x = torch.from_numpy(ids).to(self.device)
        m = torch.from_numpy(mask).to(self.device)
        full = bool(mask.all())  # no mask lets SDPA take its fused causal path
        logits = self.model(input_ids=x, attention_mask=None if full else m).logits
        logits = logits[:, :-1].float()  # float32 softmax whatever the weights' dtype
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                               reduction="none").view(x.shape[0], -1)
        return loss, m[:, 1:].to(loss.dtype)

    # ---- the language-model methods (TokenLM hooks) ----
    @property
    def prefix_token_id(self) -> int:  # type: ignore[override]
        self._need_model()
        return int(getattr(self.tokenizer, "bos_id", None) or self.tokenizer.eos_id)

    def _encode(self, text: str) -> list[int]:
        self._need_model()
        return self.tokenizer.encode(text)

    def _decode_bytes(self, ids: Sequence[int]) -> bytes:
        return self.tokenizer.decode(ids).encode("utf-8")

    def _targets(self, seqs: Sequence[Sequence[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        self._need_model()
        return torch_targets(self.model, seqs, self.tokenizer.pad_id, self.device)

    def _greedy(self, ids: Sequence[int], max_new: int, until: Sequence[str]) -> str:
        return self.tokenizer.decode(self.generate([ids], [max_new])[0])

    def hf_config(self) -> dict[str, Any]:
        self._need_model()
        return self.model.config.to_dict()

    # ---- measurement ----
    @torch.no_grad()
    def token_losses(self, seqs: Sequence[Sequence[int]], batch_size: int = 16) -> list[np.ndarray]:
        self._need_model()
        out: list[np.ndarray] = [np.zeros(0)] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))  # similar lengths batch
        for start in range(0, len(order), batch_size):
            idx = [i for i in order[start:start + batch_size] if len(seqs[i]) > 1]
            if not idx:
                continue
            loss, _ = self._token_loss_tensor([seqs[i] for i in idx])
            arr = loss.cpu().numpy().astype(np.float64)
            for row, i in enumerate(idx):
                out[i] = arr[row, :len(seqs[i]) - 1].copy()
        return out

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], n_new: Sequence[int],
                 batch_size: int = 16) -> list[list[int]]:
        """Greedy decoding with a KV cache, in batches of similar prompt length. Prompts are
        left-padded with explicit position ids (positions count real tokens only), so a padded
        row computes what it would alone, up to float rounding."""
        self._need_model()
        out: list[list[int]] = [[] for _ in prompts]
        arg = _cache_arg(self.model)
        order = sorted((i for i in range(len(prompts)) if n_new[i] > 0 and prompts[i]),
                       key=lambda i: (len(prompts[i]), n_new[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(prompts[i]) for i in idx)
            ids = torch.full((len(idx), width), self.tokenizer.pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, width - len(prompts[i]):] = torch.tensor(list(prompts[i]))
                mask[row, width - len(prompts[i]):] = 1
            ids, mask = ids.to(self.device), mask.to(self.device)
            pos = (mask.cumsum(1) - 1).clamp(min=0)
            res = self.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                             use_cache=True, logits_to_keep=1)
            gen = [res.logits[:, -1].argmax(-1)]
            for _ in range(max(n_new[i] for i in idx) - 1):
                mask = torch.cat([mask, mask.new_ones((len(idx), 1))], 1)
                pos = pos[:, -1:] + 1
                res = self.model(input_ids=gen[-1][:, None], attention_mask=mask,
                                 position_ids=pos, use_cache=True, logits_to_keep=1,
                                 **{arg: _cache_of(res)})
                gen.append(res.logits[:, -1].argmax(-1))
            toks = torch.stack(gen, 1).cpu().tolist()
            for row, i in enumerate(idx):
                out[i] = toks[row][:n_new[i]]
        return out

    def n_params(self, used_ids: Iterable[int] | None = None) -> int:
        self._need_model()
        total = sum(p.numel() for p in self.model.parameters())  # tied tensors yielded once
        if used_ids is None:
            return int(total)
        emb = self.model.get_input_embeddings().weight
        rows = emb.shape[0]
        unused = rows - len({int(i) for i in used_ids if 0 <= int(i) < rows})
        total -= unused * emb.shape[1]
        head = self.model.get_output_embeddings()
        if head is not None and head.weight is not emb:  # untied head: its rows go too
            total -= unused * head.weight.shape[1]
            if getattr(head, "bias", None) is not None:
                total -= unused
        return int(total)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"class": type(self).__name__, "options": dict(self.options),
                               "device": str(self.device), "seed": self._prepared_seed,
                               "torch_threads": torch.get_num_threads()}
        if self.model is not None:
            cfg = self.model.config
            emb = self.model.get_input_embeddings().weight
            out.update(
                architecture=type(self.model).__name__, model_type=cfg.model_type,
                layers=cfg.num_hidden_layers, width=cfg.hidden_size,
                heads=cfg.num_attention_heads, vocab_rows=int(emb.shape[0]),
                tied_embeddings=self.model.get_output_embeddings() is None
                or self.model.get_output_embeddings().weight is emb,
                dtype=str(next(self.model.parameters()).dtype), params_total=self.n_params(),
                tokenizer=self.tokenizer.info(), max_length=self.max_length)
        out["phases"] = [dict(p) for p in self.phases]
        out["train_steps"] = sum(p["steps"] for p in self.phases)
        out["train_tokens"] = sum(p["tokens"] for p in self.phases)
        return out

    def close(self) -> None:
        self.model, self._opt = None, None
