"""Offline DLCMDP datasets: Parquet files of whole episodes plus a dataset card
(docs/offline.md, method.md §5).

A dataset is a directory::

    DIR/dataset.json          the card (:class:`DatasetCard`)
    DIR/part-00000.parquet    one row per transition x_t, episodes in order

The columns use RLlib's offline names (``ray.rllib.offline.offline_prelearner.SCHEMA``),
so ``config.offline_data(input_=...)`` reads a dataset as flat transitions, plus the
env's privileged labels of each transition (:data:`LABEL_COLUMNS`). Reading checks the
card against the files: a missing file, a truncated file, a missing column, a column of
the wrong type or a row count that disagrees with the card each raise one
:class:`DatasetError` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CARD_FILE = "dataset.json"
FORMAT_VERSION = 1
EPISODES_PER_FILE = 1_000

# RLlib's flat-transition columns (``Columns``): obs is s_t, new_obs s_{t+1},
# rewards r_{t+1}; ``t`` is the index of the transition in its episode.
EPS_ID, T, OBS, NEW_OBS = "eps_id", "t", "obs", "new_obs"
ACTIONS, REWARDS, TERMINATEDS, TRUNCATEDS = "actions", "rewards", "terminateds", "truncateds"
CORE_COLUMNS = (EPS_ID, T, OBS, ACTIONS, REWARDS, NEW_OBS, TERMINATEDS, TRUNCATEDS)
# The env's privileged labels of x_t (DLCMDPEnv's info): σ(t), d_t and m_t.
SESSION_ID, SESSION_END, LATENT = "session_id", "session_end", "latent"
LABEL_COLUMNS = (SESSION_ID, SESSION_END, LATENT)


class DatasetError(ValueError):
    """A dataset that cannot be read as its card says; the message names the file."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset directory, card or data file that does not exist."""


@dataclass
class EpisodeArrays:
    """One episode of ``T`` transitions; index ``t`` is transition ``x_t``.

    ``obs``: [T+1, S] the env's observations ``s_0 … s_T`` (never the latent);
    ``actions``: [T] int64 (``Discrete``) or [T, A] float32 (``Box``), as the env
    executed them; ``rewards``: [T] ``r_{t+1}``; ``session_ids``, ``session_ends``: [T]
    and ``latents``: [T, L], the env's labels of ``x_t`` (``None`` when unlabelled).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool
    session_ids: np.ndarray | None = None
    session_ends: np.ndarray | None = None
    latents: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards))


@dataclass
class DatasetCard:
    """What ``DIR/dataset.json`` records about a dataset.

    ``behaviour_policy`` is ``{"kind": "random" | "checkpoint", "checkpoint": path or
    None, "epsilon": float}``; ``action_space`` is ``{"type": "discrete", "n": N}`` or
    ``{"type": "box", "shape": [...], "low": [...], "high": [...]}``; ``files`` lists
    ``{"path", "rows", "episodes"}``; ``columns`` maps each column to its Arrow type.
    """

    env: str
    env_config: dict[str, Any]
    behaviour_policy: dict[str, Any]
    episodes: int
    steps: int
    return_mean: float
    return_std: float
    return_min: float
    return_max: float
    observation_dim: int
    action_space: dict[str, Any]
    latent_dim: int
    session_labels: bool
    files: list[dict[str, Any]]
    columns: dict[str, str]
    seed: int | None = None
    project_version: str = ""
    format_version: int = FORMAT_VERSION
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def discrete_actions(self) -> bool:
        return self.action_space["type"] == "discrete"


@dataclass
class OfflineDataset:
    """A dataset read from disk: its card and its episodes, in file order."""

    path: Path
    card: DatasetCard
    episodes: list[EpisodeArrays]

    @property
    def has_session_labels(self) -> bool:
        return all(e.session_ids is not None for e in self.episodes)

    @property
    def parquet_files(self) -> list[Path]:
        return [self.path / f["path"] for f in self.card.files]


# -- writing -----------------------------------------------------------------------------
def _vectors(rows: np.ndarray, dtype: pa.DataType) -> pa.Array:
    """[N, D] -> a ``fixed_size_list<dtype>[D]`` column."""
    rows = np.ascontiguousarray(rows)
    return pa.FixedSizeListArray.from_arrays(
        pa.array(rows.reshape(-1), type=dtype), int(rows.shape[1])
    )


def episodes_to_table(episodes: Sequence[EpisodeArrays], first_episode_id: int = 0) -> pa.Table:
    """The rows of ``episodes`` (one per transition) as an Arrow table."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in CORE_COLUMNS + LABEL_COLUMNS}
    labelled = all(e.session_ids is not None for e in episodes)
    for index, episode in enumerate(episodes):
        length = len(episode)
        done = np.zeros(length, dtype=bool)
        columns[EPS_ID].append(np.full(length, f"{first_episode_id + index:08d}", dtype=object))
        columns[T].append(np.arange(length, dtype=np.int64))
        columns[OBS].append(episode.obs[:-1])
        columns[NEW_OBS].append(episode.obs[1:])
        columns[ACTIONS].append(episode.actions)
        columns[REWARDS].append(episode.rewards)
        columns[TERMINATEDS].append(np.concatenate([done[:-1], [episode.terminated]]))
        columns[TRUNCATEDS].append(np.concatenate([done[:-1], [episode.truncated]]))
        if labelled:
            columns[SESSION_ID].append(episode.session_ids)
            columns[SESSION_END].append(episode.session_ends)
            columns[LATENT].append(episode.latents)
    data = {name: np.concatenate(parts) for name, parts in columns.items() if parts}
    arrays: dict[str, pa.Array] = {
        EPS_ID: pa.array(data[EPS_ID], type=pa.string()),
        T: pa.array(data[T], type=pa.int64()),
        OBS: _vectors(data[OBS].astype(np.float32), pa.float32()),
        ACTIONS: (
            pa.array(data[ACTIONS].astype(np.int64), type=pa.int64())
            if data[ACTIONS].ndim == 1
            else _vectors(data[ACTIONS].astype(np.float32), pa.float32())
        ),
        REWARDS: pa.array(data[REWARDS].astype(np.float32), type=pa.float32()),
        NEW_OBS: _vectors(data[NEW_OBS].astype(np.float32), pa.float32()),
        TERMINATEDS: pa.array(data[TERMINATEDS], type=pa.bool_()),
        TRUNCATEDS: pa.array(data[TRUNCATEDS], type=pa.bool_()),
    }
    if labelled:
        arrays[SESSION_ID] = pa.array(data[SESSION_ID].astype(np.int64), type=pa.int64())
        arrays[SESSION_END] = pa.array(data[SESSION_END].astype(bool), type=pa.bool_())
        arrays[LATENT] = _vectors(data[LATENT].astype(np.float32), pa.float32())
    return pa.table(arrays)


def write_dataset(
    path: str | Path,
    episodes: Sequence[EpisodeArrays],
    *,
    env: str,
    env_config: dict[str, Any],
    behaviour_policy: dict[str, Any],
    action_space: dict[str, Any],
    seed: int | None = None,
    episodes_per_file: int = EPISODES_PER_FILE,
) -> DatasetCard:
    """Write ``episodes`` as Parquet under ``path`` (created; must hold no dataset yet)
    and the card beside them. Returns the card."""
    from rllib_dynamite import __version__

    if not episodes:
        raise DatasetError("a dataset needs at least one episode")
    path = Path(path)
    if (path / CARD_FILE).exists():
        raise DatasetError(f"{path} already holds a dataset ({CARD_FILE}); pick another --out")
    path.mkdir(parents=True, exist_ok=True)
    files, schema = [], None
    for number, start in enumerate(range(0, len(episodes), episodes_per_file)):
        chunk = episodes[start : start + episodes_per_file]
        table = episodes_to_table(chunk, first_episode_id=start)
        name = f"part-{number:05d}.parquet"
        pq.write_table(table, path / name)
        files.append({"path": name, "rows": table.num_rows, "episodes": len(chunk)})
        schema = pq.read_schema(path / name)  # the types as Parquet stores them
    returns = np.array([e.episode_return for e in episodes])
    first = episodes[0]
    card = DatasetCard(
        env=env,
        env_config=dict(env_config),
        behaviour_policy=dict(behaviour_policy),
        episodes=len(episodes),
        steps=int(sum(len(e) for e in episodes)),
        return_mean=float(returns.mean()),
        return_std=float(returns.std()),
        return_min=float(returns.min()),
        return_max=float(returns.max()),
        observation_dim=int(first.obs.shape[1]),
        action_space=action_space,
        latent_dim=int(first.latents.shape[1]) if first.latents is not None else 0,
        session_labels=first.session_ids is not None,
        files=files,
        columns={f.name: str(f.type) for f in schema},
        seed=seed,
        project_version=__version__,
    )
    (path / CARD_FILE).write_text(json.dumps(dataclasses.asdict(card), indent=2) + "\n")
    return card


# -- reading -----------------------------------------------------------------------------
def read_card(path: str | Path) -> DatasetCard:
    """The card of the dataset in ``path``, checked for its fields."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetNotFoundError(f"no such dataset directory: {path}")
    card_path = path / CARD_FILE
    if not card_path.is_file():
        raise DatasetNotFoundError(f"{card_path}: missing dataset card")
    try:
        raw = json.loads(card_path.read_text())
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"{card_path}: not valid JSON ({error.msg}, line {error.lineno})"
        ) from None
    names = {f.name for f in dataclasses.fields(DatasetCard)}
    required = {f.name for f in dataclasses.fields(DatasetCard) if f.default is dataclasses.MISSING}
    if not isinstance(raw, dict) or required - set(raw):
        missing = sorted(required - set(raw)) if isinstance(raw, dict) else sorted(required)
        raise DatasetError(f"{card_path}: card lacks {', '.join(missing)}")
    unknown = sorted(set(raw) - names)
    if unknown:
        raise DatasetError(f"{card_path}: unknown card field(s) {', '.join(unknown)}")
    if raw.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise DatasetError(f"{card_path}: format_version {raw['format_version']} is not supported")
    return DatasetCard(**raw)


def _check_file(file: Path, entry: dict[str, Any], card: DatasetCard) -> pa.Table:
    if not file.is_file():
        raise DatasetNotFoundError(f"{file}: data file listed in {CARD_FILE} is missing")
    try:
        schema = pq.read_schema(file)
    except (pa.ArrowInvalid, OSError) as error:
        raise DatasetError(f"{file}: truncated or not a Parquet file ({error})") from None
    for name in CORE_COLUMNS + (LABEL_COLUMNS if card.session_labels else ()):
        if name not in schema.names:
            raise DatasetError(f"{file}: missing column {name!r}")
    for name, expected in card.columns.items():
        if name not in schema.names:
            raise DatasetError(f"{file}: missing column {name!r} (listed in {CARD_FILE})")
        actual = str(schema.field(name).type)
        if actual != expected:
            raise DatasetError(f"{file}: column {name!r} is {actual}, the card says {expected}")
    try:
        table = pq.read_table(file)
    except (pa.ArrowInvalid, OSError) as error:
        raise DatasetError(f"{file}: truncated or corrupt Parquet data ({error})") from None
    if table.num_rows != entry["rows"]:
        raise DatasetError(f"{file}: {table.num_rows} rows, the card says {entry['rows']}")
    return table


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A ``fixed_size_list`` column -> [N, D]; a scalar column -> [N]."""
    array = column.combine_chunks()
    if pa.types.is_fixed_size_list(array.type):
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), -1)
    return array.to_numpy(zero_copy_only=False)


def table_to_episodes(table: pa.Table, file: Path | str = "table") -> list[EpisodeArrays]:
    """Split a table of transitions into episodes (rows of an episode are consecutive)."""
    eps_ids = table.column(EPS_ID).to_numpy(zero_copy_only=False)
    steps = _matrix(table.column(T))
    columns = {name: _matrix(table.column(name)) for name in table.column_names if name != EPS_ID}
    starts = np.flatnonzero(np.concatenate([[True], eps_ids[1:] != eps_ids[:-1]]))
    bounds = np.concatenate([starts, [len(eps_ids)]])
    labelled = SESSION_ID in columns
    episodes = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        if not np.array_equal(steps[start:end], np.arange(end - start)):
            raise DatasetError(f"{file}: episode {eps_ids[start]!r} is not stored as t = 0, 1, ...")
        obs = columns[OBS][start:end]
        episodes.append(
            EpisodeArrays(
                obs=np.concatenate([obs, columns[NEW_OBS][end - 1 : end]]).astype(np.float32),
                actions=columns[ACTIONS][start:end],
                rewards=columns[REWARDS][start:end].astype(np.float32),
                terminated=bool(columns[TERMINATEDS][end - 1]),
                truncated=bool(columns[TRUNCATEDS][end - 1]),
                session_ids=columns[SESSION_ID][start:end] if labelled else None,
                session_ends=columns[SESSION_END][start:end] if labelled else None,
                latents=columns[LATENT][start:end].astype(np.float32) if labelled else None,
            )
        )
    return episodes


def read_dataset(path: str | Path) -> OfflineDataset:
    """Read and check the dataset in ``path`` (see the module docstring).

    Raises:
        DatasetNotFoundError: no such directory, card or data file.
        DatasetError: a truncated file, a missing or mistyped column, or a file whose
            rows or episodes disagree with the card; the message names the file.
    """
    path = Path(path)
    card = read_card(path)
    listed = {entry["path"] for entry in card.files}
    unlisted = sorted(p.name for p in path.glob("*.parquet") if p.name not in listed)
    if unlisted:
        raise DatasetError(f"{path / unlisted[0]}: data file not listed in {CARD_FILE}")
    episodes: list[EpisodeArrays] = []
    for entry in card.files:
        file = path / entry["path"]
        file_episodes = table_to_episodes(_check_file(file, entry, card), file)
        if len(file_episodes) != entry["episodes"]:
            raise DatasetError(
                f"{file}: {len(file_episodes)} episodes, the card says {entry['episodes']}"
            )
        episodes.extend(file_episodes)
    steps = sum(len(e) for e in episodes)
    if len(episodes) != card.episodes or steps != card.steps:
        raise DatasetError(
            f"{path / CARD_FILE}: the card says {card.episodes} episodes / {card.steps} steps, "
            f"the files hold {len(episodes)} / {steps}"
        )
    return OfflineDataset(path=path, card=card, episodes=episodes)
