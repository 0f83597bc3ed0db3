"""``hopid train``: data, tagger, network, the epoch loop, checkpoints, validation, the run directory.

A run directory holds everything serving needs (see docs/model.md): ``config.yaml`` (the
resolved recipe), ``model.safetensors`` (the best weights), ``run.json`` (what serving
reads: fusion.alpha, dimensions), ``tagger/``, ``provenance.json``, ``train_log.parquet``,
``metrics.parquet`` (with the OCR engine that scored the test split) and ``checkpoints/``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from hopid import __version__
from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.data.schema import atomic_write_bytes, table_path, write_table
from hopid.errors import HopidError
from hopid.eval.protocols import GENERIC, IDENTITY, headline_metric, plan, protocol_metrics
from hopid.models.inputs import entity_batch, image_vectors, ocr_batch, text_vectors
from hopid.models.network import GATES, HopidNet, NetConfig, WordBank
from hopid.models.run_dir import (
    CACHE_DIR,
    CONFIG_FILE,
    LAST_CHECKPOINT,
    RUN_FILE,
    TAGGER_DIR,
    WEIGHTS_FILE,
    load_weights,
    save_weights,
)
from hopid.progress import Progress
from hopid.scenetext.fusion import fuse
from hopid.train import distributed as dist_
from hopid.train.calibrate import calibrate_alpha, calibrate_rerank
from hopid.train.checkpoint import load_checkpoint, save_checkpoint
from hopid.train.data import (
    SplitData,
    chunks,
    dataset_fingerprint,
    epoch_order,
    fingerprint,
    hold_out_val,
    load_split,
    sample_rng,
)
from hopid.train.losses import explanation_losses, reference_losses, retrieval_loss
from hopid.train.ocr_noise import NoiseConfig
from hopid.train.outputs import provenance_of, write_run_outputs
from hopid.train.recipe import IDENTITY_METRICS, SYNTHETIC, dump_recipe
from hopid.train.respell import Cipher, step_cipher

Note = Callable[[str], None]
EVAL_BATCH = 128


@dataclass
class TrainState:
    """Where the loop is: what a checkpoint stores beside the weights and the optimizer."""

    step: int = 0
    epoch: int = 0  # the epoch in progress (0-based)
    position: int = 0  # batches of that epoch done
    best_score: float = -1.0  # the best val score so far, by select_on
    best_epoch: int = 0  # its epoch (1-based; 0: none yet)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TrainState:
        return cls(**{f.name: saved[f.name] for f in dataclasses.fields(cls)})


@dataclass
class TrainSummary:
    run_dir: Path
    epochs: int
    steps: int
    best_epoch: int
    best_score: float
    fusion_alpha: float
    metrics: dict[str, dict[str, float]]
    seconds: float
    samples_per_second: float
    resumed_at_step: int = 0
    notes: list[str] = field(default_factory=list)
    ocr_engine: str | None = None  # whose OCR words the scene-text scores used (ground truth for the recipes)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HopidError(f"train.device {name!r}: no CUDA GPU is available here; use auto or cpu")
    return name


def synthetic_cache_dir(settings: dict[str, Any]) -> Path:
    """Where the synthetic benchmark of ``settings`` is rendered once (``$HOPID_CACHE``), keyed by
    the settings that change it and, for the word benchmark, its generator's version."""
    from hopid.synthetic import GENERATOR_VERSION

    base = Path(os.environ.get("HOPID_CACHE", Path.home() / ".cache" / "hopid"))
    keys = (
        ("seed", "identities", "views", "size", "explanations")
        if settings.get("identities")
        else ("seed", "groups", "variants", "size")
    )
    if settings.get("identities"):  # the defaults keep the caches made before these options existed
        keys += tuple(key for key in ("logo_only_views", "slogans") if settings.get(key))
    prefix = "identities-" if settings.get("identities") else f"synthetic-v{GENERATOR_VERSION}-"
    name = prefix + "-".join(f"{k}{settings[k]}" for k in keys)
    return base / name


def prepare_dataset(recipe: dict[str, Any], world: dist_.World, progress: Progress | None) -> Path:
    """The recipe's dataset directory; the synthetic benchmark is rendered once and cached."""
    data = recipe["data"]
    if data["dataset"] != SYNTHETIC:
        root = Path(data["dataset"])
        if not (root / "images.parquet").is_file():
            raise HopidError(f"data.dataset {root}: not a dataset directory; create one with `hopid prepare`")
        return root
    from hopid.synthetic import generate
    from hopid.synthetic.identities import generate_identities

    settings = dict(data["synthetic"])
    root = synthetic_cache_dir(settings)
    if world.is_main and not (root / "images.parquet").is_file():
        identities, views = settings.pop("identities"), settings.pop("views")
        explanations, logo_only_views = settings.pop("explanations"), settings.pop("logo_only_views")
        slogans = settings.pop("slogans")
        if identities:
            generate_identities(
                root,
                seed=settings["seed"],
                identities=identities,
                views=views,
                size=settings["size"],
                progress=progress,
                explanations=explanations,
                logo_only_views=logo_only_views,
                slogans=slogans,
            )
        else:
            generate(root, **settings, progress=progress)
    dist_.barrier(world)
    return root


def ensure_tagger(root: Path, run_dir: Path, recipe: dict, world: dist_.World, progress: Progress | None):
    from hopid.entities.tagger import INFO_FILE, load_tagger, train_tagger

    tagger_dir = run_dir / TAGGER_DIR
    source = recipe["tagger"]["copy_from"]
    if world.is_main and not (tagger_dir / INFO_FILE).is_file() and source:
        import shutil

        load_tagger(source)  # a clear error when it is not a tagger
        shutil.copytree(source, tagger_dir, dirs_exist_ok=True)
    if world.is_main and not (tagger_dir / INFO_FILE).is_file():
        train_tagger(
            root,
            tagger_dir,
            epochs=recipe["tagger"]["epochs"],
            seed=recipe["train"]["seed"],
            engine=recipe["data"]["ocr_engine"],
            progress=progress,
        )
    dist_.barrier(world)
    return load_tagger(tagger_dir)


def build_net(config: NetConfig, device: str, seed: int, references: int = 0) -> tuple[HopidNet, Any]:
    """The network on its backbone (heads initialised under ``seed``) and the image preprocess."""
    from hopid.models.factory import load_encoder

    encoder = load_encoder(config.backbone, device=device)
    torch.manual_seed(seed)
    net = HopidNet(encoder.model, encoder.tokenizer, config, references).to(device)
    return net, encoder.preprocess


def start_world(train_cfg: dict[str, Any]) -> tuple[str, dist_.World]:
    """The device and the torchrun world of this process (threads set, batch size checked)."""
    if train_cfg["threads"]:
        torch.set_num_threads(int(train_cfg["threads"]))
    device = resolve_device(train_cfg["device"])
    world = dist_.init_world(device)
    if world.distributed and device == "cuda":
        device = f"cuda:{world.local_rank}"
        torch.cuda.set_device(device)
    if train_cfg["batch_size"] % world.size:
        raise HopidError(f"train.batch_size {train_cfg['batch_size']} must divide by the {world.size} processes")
    return device, world


class Trainer:
    """One training run: constructing it prepares the processes, the run directory, the data and
    the network; ``run()`` trains, calibrates, writes the run directory and returns the summary."""

    def __init__(
        self,
        recipe: dict[str, Any],
        run_dir: Path,
        *,
        resume: bool = False,
        progress: Progress | None = None,
        note: Note | None = None,
    ) -> None:
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.progress = progress
        self.note = note or (lambda _: None)
        self.train_cfg = recipe["train"]
        self.seed = int(self.train_cfg["seed"])
        self.noise = NoiseConfig(**recipe["ocr_noise"])
        self.config = NetConfig.from_dict(recipe["model"])
        self.errors = ErrorLog("train")
        self.log: list[dict[str, Any]] = []
        self.began = time.perf_counter()
        # -- the processes, the run directory and the data ---------------------------------------------
        self.device, self.world = start_world(self.train_cfg)
        self._claim_run_dir()
        torch.manual_seed(self.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.amp = self.device.startswith("cuda") and self.train_cfg["amp"] in ("auto", "on", True)
        self.root = prepare_dataset(recipe, self.world, progress)
        data = recipe["data"]
        self.dataset, held_out = hold_out_val(
            Dataset.open(self.root), data["train_split"], data["val_split"], data["val_fraction"]
        )
        self.notes = [held_out] if held_out else []
        for line in self.notes:
            self.note(line)
        self.data_fingerprint = dataset_fingerprint(self.root)
        self.protocol = plan(self.dataset.benchmark(), None, None)
        self.select_on = self._select_on()
        self.ocr_engine = self.dataset.ocr_engine(data["ocr_engine"])
        self.ocr = self.dataset.ocr(self.ocr_engine)
        self.tagger = ensure_tagger(self.root, self.run_dir, recipe, self.world, progress)
        # -- the network, the splits as tensors, the optimizer -----------------------------------------
        train_ids = self.dataset.images.filter(pl.col("split") == data["train_split"])["object_id"]
        self.identities = {name: row for row, name in enumerate(sorted(train_ids.drop_nulls().unique()))}
        references = len(self.identities) if self.config.mmref else 0
        self.net, self.preprocess = build_net(self.config, self.device, self.seed, references)
        self.train_data = self._load_split("train_split")
        self.train_identity = self.train_data.identity_rows(self.identities)
        self.val_data = self._load_split("val_split")
        self.bank = WordBank(self.net)
        for split in (self.train_data, self.val_data):
            self.bank.add(split.strings + split.prompts + split.all_noise_strings(self.noise, self.seed))
            self._cache_towers(split)
        self.parameters = [p for _, p in self.net.trainable_parameters()]
        self.optimizer = self._make_optimizer()
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and not torch.cuda.is_bf16_supported())

    # -- setup ----------------------------------------------------------------------------------
    def _claim_run_dir(self) -> None:
        """Refuse another run's directory (or a finished one without --resume); write the recipe."""
        saved = self.run_dir / CONFIG_FILE
        has_run = (self.run_dir / LAST_CHECKPOINT).is_file() or (self.run_dir / RUN_FILE).is_file()
        if has_run and not self.resume:
            raise HopidError(
                f"{self.run_dir}: already holds a run; pass --resume to continue it or choose another --out"
            )
        if saved.is_file():  # also a run cut short before its first checkpoint: its tagger and caches stay valid
            import yaml

            before = yaml.safe_load(saved.read_text())
            if before != self.recipe:
                keys = [k for k in self.recipe if before.get(k) != self.recipe[k]]
                raise HopidError(
                    f"{self.run_dir}: holds a run of a different recipe (sections {', '.join(keys)} differ); "
                    "use that run's recipe and --set values, or another --out"
                )
        if self.world.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            text = dump_recipe(self.recipe)
            atomic_write_bytes(self.run_dir / CONFIG_FILE, lambda tmp: Path(tmp).write_text(text))

    def _select_on(self) -> str:
        """The val metric that picks the best epoch, fusion.alpha and re-ranking: the recipe's
        ``eval.select_on``, or with ``auto`` the dataset's own (mAP for identities, else rSum)."""
        chosen = self.recipe["eval"]["select_on"]
        if chosen == "auto":
            return headline_metric(self.protocol.protocol)
        identities = chosen in IDENTITY_METRICS
        if identities != (self.protocol.protocol == IDENTITY) and self.protocol.protocol != GENERIC:
            raise HopidError(
                f"recipe: eval.select_on {chosen!r} is not a metric of the {self.protocol.protocol} protocol"
            )
        return chosen

    def val_metrics(self, scores: np.ndarray, data: SplitData) -> dict[str, float]:
        """The dataset protocol's metrics of captions x images ``scores`` on a split."""
        groups = data.image_groups or [None] * len(data.image_ids)
        return protocol_metrics(self.protocol, scores, data.caption_image, groups, str(self.root))

    def _load_split(self, key: str) -> SplitData:
        """The split the recipe's ``data.<key>`` names, with the run's tagger's entities."""
        return load_split(
            self.dataset,
            self.recipe["data"][key],
            self.net,
            self.preprocess,
            self.tagger,
            ocr=self.ocr,
            errors=self.errors,
            progress=self.progress,
        )

    def _make_optimizer(self) -> torch.optim.AdamW:
        """AdamW: the towers at ``backbone_lr``, the heads at ``lr``, the scalar gates of the scene-text
        and spelling channels at ``gate_lr`` (at ``lr`` a gate barely leaves its start in a short
        run: docs/unseen-words.md); no weight decay on 1-d weights."""
        groups: dict[tuple[str, bool], list[torch.nn.Parameter]] = {}
        for name, parameter in self.net.trainable_parameters():
            kind = "backbone_lr" if name.startswith("clip.") else "gate_lr" if name in GATES else "lr"
            groups.setdefault((kind, parameter.ndim < 2), []).append(parameter)
        return torch.optim.AdamW(
            [
                {
                    "params": params,
                    "lr": self.train_cfg[kind] if self.train_cfg.get(kind) is not None else self.train_cfg["lr"],
                    "weight_decay": 0.0 if flat else self.train_cfg["weight_decay"],
                }
                for (kind, flat), params in sorted(groups.items())
            ],
            betas=(0.9, 0.98),
            eps=1e-6,
        )

    def _cache_towers(self, data: SplitData) -> None:
        """The frozen towers' outputs of a split, computed once (``train.cache_frozen``)."""
        if not self.train_cfg["cache_frozen"]:
            return
        if self.config.freeze_image:
            self._cache_frozen(data)
        if self.config.freeze_text:
            data.caption_features = self._caption_features(data)

    def _cache_frozen(self, data: SplitData) -> None:
        """Run the frozen image tower once per image (kept on disk under cache/ for the next run)."""
        from safetensors.torch import load_file

        key = fingerprint(
            __version__,
            self.config.backbone,
            self.config.uses("visual_prompt"),
            self.config.prompt_color,
            self.config.prompt_width,
            self.config.max_ocr_tokens,
            self.recipe["data"]["ocr_engine"],
            self.data_fingerprint,
            data.image_ids,
        )
        path = self.run_dir / CACHE_DIR / f"images-{data.name}-{key}.safetensors"
        if path.is_file():
            cached = load_file(str(path))
            data.image_features = (cached["global"].to(self.device), cached["tokens"].to(self.device))
            data.pixels = None
            return
        outputs = self._tower_features(data)
        data.image_features, data.pixels = outputs, None
        if self.world.is_main:
            save_weights({"global": outputs[0], "tokens": outputs[1]}, path)

    @torch.no_grad()
    def _tower_features(self, data: SplitData) -> tuple[torch.Tensor, torch.Tensor]:
        globals_, tokens = [], []
        for rows in chunks(range(len(data.image_ids)), EVAL_BATCH):
            with self._autocast():
                g, t = self.net.image_backbone(data.pixels[rows].to(self.device).float())
            globals_.append(g.float())
            tokens.append(t.float())
        return torch.cat(globals_), torch.cat(tokens)

    @torch.no_grad()
    def _caption_features(self, data: SplitData) -> torch.Tensor:
        """The frozen text tower's caption features, once per caption (cheap enough not to keep on disk)."""
        parts = []
        for rows in chunks(range(len(data.caption_ids)), EVAL_BATCH):
            with self._autocast():
                parts.append(self.net.caption_backbone(data.caption_token_ids[rows].to(self.device)).float())
        return torch.cat(parts)

    def _autocast(self):
        if not self.amp:
            return torch.autocast("cpu", enabled=False)
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    # -- forward ----------------------------------------------------------------------------------
    def _image_side(self, data: SplitData, image_rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if data.image_features is not None:
            return data.image_features[0][image_rows], data.image_features[1][image_rows]
        return self.net.image_backbone(data.pixels[image_rows].to(self.device).float())

    def encode_batch(
        self, data: SplitData, caption_rows: list[int], epoch: int | None, cipher: Cipher | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(T, V, T with the explanations' words) of captions and their images; ``epoch`` turns on
        OCR noise (training), ``cipher`` re-spells every written word of the batch
        (``train.respell``). The third is None unless ``model.explained_words``."""
        image_rows = [int(data.caption_image[c]) for c in caption_rows]
        bank = self.bank if cipher is None else WordBank(self.net)  # re-spelt words: embedded for this step only
        caption = self._caption_side(data, caption_rows)  # once, for T and the explained T
        texts = self._text_vectors(caption, [data.entity_words[c] for c in caption_rows], cipher, bank)
        explained = None
        if data.explained_words is not None:
            explained = self._text_vectors(caption, [data.explained_words[c] for c in caption_rows], cipher, bank)
        return texts, self.encode_images(data, image_rows, caption_rows, epoch, cipher, bank), explained

    def encode_images(
        self,
        data: SplitData,
        image_rows: list[int],
        sample_ids: list[int] | None = None,
        epoch: int | None = None,
        cipher: Cipher | None = None,
        bank: WordBank | None = None,
    ) -> torch.Tensor:
        global_feature, patch_tokens = self._image_side(data, image_rows)
        bank = bank or self.bank
        ocr = None
        if self.config.uses("ocr_entities"):
            if epoch is None:
                tokens = [data.tokens[r] for r in image_rows]
            else:
                tokens = [
                    data.noisy_tokens(r, self.noise, sample_rng(self.seed, epoch, s), self.seed)
                    for r, s in zip(image_rows, sample_ids, strict=True)
                ]
            if cipher is not None:
                tokens = [[dataclasses.replace(t, text=cipher(t.text)) for t in found] for found in tokens]
            ocr = ocr_batch(tokens, bank, self.config.max_ocr_tokens).to(self.device)
        return image_vectors(self.net, bank, global_feature, patch_tokens, ocr)

    def encode_texts(self, data: SplitData, caption_rows: list[int]) -> torch.Tensor:
        """T of captions with their entity words."""
        caption = self._caption_side(data, caption_rows)
        return self._text_vectors(caption, [data.entity_words[c] for c in caption_rows], None, self.bank)

    def _caption_side(self, data: SplitData, caption_rows: list[int]) -> torch.Tensor:
        """The caption tower's features of the rows (cached when the tower is frozen)."""
        if data.caption_features is not None:
            return data.caption_features[caption_rows]
        return self.net.caption_backbone(data.caption_token_ids[caption_rows].to(self.device))

    def _text_vectors(
        self, caption: torch.Tensor, found: list[list[str]], cipher: Cipher | None, bank: WordBank
    ) -> torch.Tensor:
        """T of caption features with one list of entity words each (re-spelt by ``cipher``)."""
        entities = None
        if self.config.uses("text_prompt") or self.config.uses("entity_words"):
            if cipher is not None:
                found = [[cipher(w) for w in words] for words in found]
            entities = entity_batch(found, bank, self.config.max_entities).to(self.device)
        return text_vectors(self.net, bank, caption, entities)

    @torch.no_grad()
    def split_vectors(self, data: SplitData) -> tuple[np.ndarray, np.ndarray]:
        """(T of every caption, V of every image) of the network, float32."""
        self.net.eval()
        with self._autocast():
            images = [self.encode_images(data, rows).float() for rows in chunks(range(len(data.image_ids)), EVAL_BATCH)]
            texts = [self.encode_texts(data, rows).float() for rows in chunks(range(len(data.caption_ids)), EVAL_BATCH)]
        self.net.train()
        return torch.cat(texts).cpu().numpy(), torch.cat(images).cpu().numpy()

    def split_scores(self, data: SplitData) -> np.ndarray:
        """Captions x images cosine scores of the network alone."""
        texts, images = self.split_vectors(data)
        return texts @ images.T

    # -- the loop -----------------------------------------------------------------------------------
    def lr_factor(self, step: int, total: int) -> float:
        warmup = self.train_cfg["warmup_steps"]
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def run(self) -> TrainSummary:
        batch = self.train_cfg["batch_size"]
        n_captions = len(self.train_data.caption_ids)
        if n_captions < batch:
            raise HopidError(f"train split has {n_captions} captions, fewer than train.batch_size {batch}")
        steps_per_epoch = n_captions // batch
        epochs = self.train_cfg["epochs"]
        total = steps_per_epoch * epochs
        state = TrainState()
        resumed = 0
        if self.resume and (self.run_dir / LAST_CHECKPOINT).is_file():
            saved = load_checkpoint(self.run_dir / LAST_CHECKPOINT, self.net, self.optimizer)
            self.scaler.load_state_dict(saved.get("scaler") or {})
            state, self.log = TrainState.from_dict(saved), saved["log"]
            resumed = state.step
            self.note(f"resuming at step {resumed} (epoch {state.epoch + 1}, batch {state.position})")
        self.net.train()
        trained_samples, loop_began = 0, time.perf_counter()
        local = batch // self.world.size
        for epoch in range(state.epoch, epochs):
            order = epoch_order(self.train_data, self.seed, epoch, self.train_cfg["group_batches"])
            for position in range(state.position, steps_per_epoch):
                rows = order[position * batch : (position + 1) * batch]
                mine = rows[self.world.rank * local : (self.world.rank + 1) * local]
                losses = self._step(mine, rows, epoch, state.step, total)
                state.step += 1
                trained_samples += batch
                state.position = position + 1
                state.epoch = epoch
                if state.step % 10 == 0 or position + 1 == steps_per_epoch:
                    self.log += [self._row(state.step, epoch, "train", k, v) for k, v in losses.items()]
                if self.progress:
                    self.progress("train", state.step, total)
                if state.step % self.train_cfg["checkpoint_every"] == 0:
                    self._save(state)
            metrics = self.val_metrics(self.split_scores(self.val_data), self.val_data)
            self.log += [self._row(state.step, epoch, "val", k, v) for k, v in metrics.items()]
            score = metrics[self.select_on]
            if score > state.best_score:
                state.best_score, state.best_epoch = score, epoch + 1
                if self.world.is_main:
                    save_weights(self.net.state_dict(), self.run_dir / WEIGHTS_FILE)
            shown = ", ".join(
                f"{key} {metrics[key]:.3f}"
                for key in dict.fromkeys((self.select_on, "t2i_r1", "rank1"))
                if key in metrics
            )
            self.note(f"epoch {epoch + 1}/{epochs}: val {shown}")
            state.epoch, state.position = epoch + 1, 0
            self._save(state)
        loop_seconds = time.perf_counter() - loop_began
        summary = self._finish(state, self.began, trained_samples / max(loop_seconds, 1e-9), resumed)
        dist_.shutdown(self.world)
        return summary

    def _row(self, step: int, epoch: int, kind: str, metric: str, value: float) -> dict[str, Any]:
        return {"step": step, "epoch": epoch + 1, "kind": kind, "metric": metric, "value": float(value)}

    def _step(self, mine: list[int], rows: list[int], epoch: int, step: int, total: int) -> dict[str, float]:
        factor = self.lr_factor(step, total)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor
        with self._autocast():
            cipher = step_cipher(self.seed, step, self.train_cfg["respell"])
            text, image, explained_text = self.encode_batch(self.train_data, mine, epoch, cipher)
        text = dist_.gather_with_grad(text.float(), self.world)
        image = dist_.gather_with_grad(image.float(), self.world)
        if explained_text is not None:
            explained_text = dist_.gather_with_grad(explained_text.float(), self.world)
        keys = torch.as_tensor(self.train_data.caption_image[rows], device=text.device)
        loss_cfg = self.recipe["loss"]
        loss, parts = retrieval_loss(
            text,
            image,
            keys,
            triplet=loss_cfg["triplet"],
            margin=loss_cfg["margin"],
            infonce=loss_cfg["infonce"],
            logit_scale=dist_.global_param(self.net.logit_scale, self.world),
        )
        if self.net.references is not None:
            identities = torch.as_tensor(self.train_identity[rows], device=text.device)
            extra, extra_parts = reference_losses(
                self.net.references,
                text,
                image,
                identities,
                construction=loss_cfg["reference_construction"],
                guided=loss_cfg["reference_guided"],
            )
            loss, parts = loss + extra, parts | extra_parts
        if self.net.experts is not None:
            with self._autocast():
                explanation = self.net.caption_backbone(self.train_data.explanation_token_ids[mine].to(self.device))
            extra, extra_parts = explanation_losses(
                self.net.experts,
                text,
                image,
                dist_.gather_with_grad(explanation.float(), self.world),
                keys,
                matching=loss_cfg["matching"],
                enhanced=loss_cfg["enhanced"],
                explained=loss_cfg["explained"],
                logit_scale=dist_.global_param(self.net.logit_scale, self.world),
                identities=self._explained_identities(rows, text.device),
                explained_text=explained_text,
            )
            loss, parts = loss + extra, parts | extra_parts
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        dist_.sum_gradients(self.parameters, self.world)
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.parameters, 5.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        gates = {name: float(getattr(self.net, name).detach()) for name in GATES if hasattr(self.net, name)}
        return {"loss": float(loss.detach()), "lr": max(g["lr"] for g in self.optimizer.param_groups), **parts, **gates}

    def _save(self, state: TrainState) -> None:
        if self.world.is_main:
            saved = state.to_dict() | {"log": self.log, "scaler": self.scaler.state_dict()}
            save_checkpoint(self.run_dir / LAST_CHECKPOINT, self.net, self.optimizer, saved)
            write_table(self.log, table_path(self.run_dir, "train_log"), "train_log")

    # -- after training -------------------------------------------------------------------------------
    def _finish(self, state: TrainState, began: float, samples_per_second: float, resumed: int) -> TrainSummary:
        dist_.barrier(self.world)  # rank 0 writes the best weights
        self.net.load_state_dict(load_weights(self.run_dir / WEIGHTS_FILE))
        val_texts, val_images = self.split_vectors(self.val_data)  # once, for both choices
        alpha = self._choose_alpha(val_texts @ val_images.T)
        rerank = self._choose_rerank(val_texts, val_images, alpha) if self.net.references is not None else None
        test = self._load_split("test_split")
        self.bank.add(test.strings + test.prompts)
        dense = self.split_scores(test)
        fused = fuse(dense, self._lexical(test), alpha)
        metrics = {"dense": self.val_metrics(dense, test), "fused": self.val_metrics(fused, test)}
        if self.world.is_main:
            self._write_outputs(state, alpha, rerank, metrics, samples_per_second)
        return TrainSummary(
            self.run_dir,
            state.epoch,
            state.step,
            state.best_epoch,
            state.best_score,
            alpha,
            metrics,
            time.perf_counter() - began,
            samples_per_second,
            resumed,
            self.notes,
            self.ocr_engine,
        )

    def _lexical(self, data: SplitData) -> np.ndarray:
        from hopid.eval.evaluate import scene_text_scores

        return scene_text_scores(self.ocr, data.image_ids, data.caption_texts, data.entity_spans)

    def _choose_alpha(self, dense: np.ndarray) -> float:
        """fusion.alpha for the trained network (``dense``: its val captions x images scores)."""
        alpha, tried = calibrate_alpha(
            dense,
            self._lexical(self.val_data),
            self.recipe["eval"]["alphas"],
            self.recipe["eval"]["alpha_tolerance"],
            lambda scores: self.val_metrics(scores, self.val_data),
            self.select_on,
        )
        self.log += [self._row(0, -1, "alpha", f"{self.select_on}@{a}", score) for a, score in tried.items()]
        return alpha

    def _explained_identities(self, rows: list[int], device: torch.device) -> torch.Tensor | None:
        """Each row's identity when ``loss.explained_positives`` is ``identity`` (else None)."""
        if self.recipe["loss"]["explained_positives"] != "identity":
            return None
        return torch.as_tensor(self.train_identity[rows], device=device)

    def _choose_rerank(self, texts: np.ndarray, images: np.ndarray, alpha: float) -> dict[str, Any]:
        """MMRef's re-ranking (k, beta, query) for the network's val vectors ``texts`` and
        ``images``: for the dense scores, and under ``fused`` for the scores fused with ``alpha``
        (scene text can already rank what the references would lift; measured apart)."""
        profiles = self.net.references.profiles
        dense = texts @ images.T
        of_texts, of_images = profiles(texts), profiles(images)
        chosen: dict[str, Any] = {}
        for kind, scores in (("dense", dense), ("fused", fuse(dense, self._lexical(self.val_data), alpha))):
            found, tried = calibrate_rerank(
                scores,
                of_texts,
                of_images,
                self.recipe["eval"]["rerank_ks"],
                self.recipe["eval"]["rerank_betas"],
                lambda matrix: self.val_metrics(matrix, self.val_data),
                self.select_on,
                self.recipe["eval"]["rerank_queries"],
            )
            self.log += [self._row(0, -1, "rerank", f"{kind}:{setting}", v) for setting, v in tried.items()]
            chosen |= found if kind == "dense" else {"fused": found}
        return chosen

    def _write_light_tagger(self) -> dict[str, float]:
        """``tagger/light.json``: the tagger's decisions on train captions as word tables, for
        queries without spaCy; returns its agreement with the tagger on val captions."""
        from hopid.entities.light import LIGHT_FILE, agreement, learn_light_tagger

        light = learn_light_tagger(self.train_data.caption_texts, self.train_data.entity_spans)
        light.agreement = agreement(light, self.val_data.caption_texts, self.val_data.entity_spans)
        light.save(self.run_dir / TAGGER_DIR / LIGHT_FILE)
        return light.agreement

    def _write_outputs(
        self,
        state: TrainState,
        alpha: float,
        rerank: dict[str, Any] | None,
        metrics: dict[str, dict[str, float]],
        samples_per_second: float,
    ) -> None:
        info = {
            "hopid_version": __version__,
            "fusion_alpha": alpha,
            "dim": self.net.out_dim,
            "needs_ocr": self.config.needs_ocr,
            "ocr_engine": self.ocr_engine,
            "best_epoch": state.best_epoch,
            "best_val_score": state.best_score,
            "train_samples_per_second": round(samples_per_second, 1),  # of this process's last session
            "preprocess": dict(getattr(self.net.clip.visual, "preprocess_cfg", None) or {}),
        }
        if self.net.references is not None:
            info |= {"references": len(self.identities), "rerank": rerank}
        info["light_tagger"] = self._write_light_tagger()
        split = self.recipe["data"]["test_split"]
        provenance = provenance_of(self.recipe, self.root)
        write_run_outputs(self.run_dir, info, provenance, metrics, split, self.ocr_engine, self.log, self.errors)


def train(
    recipe: dict[str, Any],
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    note: Note | None = None,
) -> TrainSummary:
    """Train the recipe into ``run_dir`` (``resume`` continues from its last checkpoint)."""
    return Trainer(recipe, Path(run_dir), resume=resume, progress=progress, note=note).run()
