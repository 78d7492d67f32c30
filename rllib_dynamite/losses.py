"""DynaMITE-RL's belief-model losses as pure functions of tensors (`docs/method.md §3`).

Shape conventions:

- ``B``: trajectories in the batch; ``T``: transitions per trajectory (padded).
- ``session_ids`` (``LongTensor[B, T]``): the session index σ(t) of transition x_t,
  non-decreasing along a trajectory and starting at 0.
- ``valid`` (``BoolTensor[B, T]``): real (non-padding) transitions, a prefix of each row.
- Beliefs and priors are diagonal Gaussians given as ``(mean, logvar)``, last dim ``D``.

Padding never reaches a loss or its gradient: padded entries are replaced with zeros
through ``torch.where`` *before* any arithmetic, so a NaN or inf stored in a padded slot
can leak neither into the value nor (through ``0 * nan``) into the gradient. A trajectory
with no valid transition is padding too and is left out of every mean.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _zero_where_not(mask: Tensor, x: Tensor) -> Tensor:
    """``x`` where ``mask`` (broadcast over ``x``'s trailing dims), else 0."""
    while mask.dim() < x.dim():
        mask = mask.unsqueeze(-1)
    return torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _safe_ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator``, with 0 wherever the denominator is 0."""
    nonzero = denominator != 0
    safe_denominator = torch.where(nonzero, denominator, torch.ones_like(denominator))
    return torch.where(nonzero, numerator / safe_denominator, torch.zeros_like(numerator))


def gaussian_kl(mean_q: Tensor, logvar_q: Tensor, mean_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mean_q, exp logvar_q) ‖ N(mean_p, exp logvar_p)) for diagonal Gaussians.

    All inputs broadcast to ``[..., D]``; returns ``[...]`` (summed over ``D``).
    """
    var_ratio = torch.exp(logvar_q - logvar_p)
    mahalanobis = (mean_q - mean_p).pow(2) * torch.exp(-logvar_p)
    return 0.5 * (var_ratio + mahalanobis - 1.0 - (logvar_q - logvar_p)).sum(dim=-1)


def session_starts(session_ids: Tensor, valid: Tensor) -> Tensor:
    """``BoolTensor[B, T]``: x_t opens a new session, σ(t) ≠ σ(t-1) (`docs/method.md §3`).

    False at t = 0 (the first session has no predecessor) and at padding.
    """
    starts = torch.zeros_like(valid)
    starts[:, 1:] = (session_ids[:, 1:] != session_ids[:, :-1]) & valid[:, 1:]
    return starts


def session_final_index(session_ids: Tensor, valid: Tensor) -> Tensor:
    """``LongTensor[B, T]``: e(t), the last valid step of t's session (`docs/method.md §3`).

    Padding steps map to themselves. Vectorised: mark each session's last step, then take
    a reversed running minimum of the marked indices.
    """
    num_steps = session_ids.shape[1]
    steps = torch.arange(num_steps, device=session_ids.device).expand_as(session_ids)
    next_continues = torch.zeros_like(valid)
    next_continues[:, :-1] = valid[:, 1:] & (session_ids[:, 1:] == session_ids[:, :-1])
    is_last = valid & ~next_continues
    marked = torch.where(is_last, steps, torch.full_like(steps, num_steps))
    final = torch.flip(torch.cummin(torch.flip(marked, dims=[1]), dim=1).values, dims=[1])
    return torch.where(valid, final, steps)


def session_mask(
    belief_session_ids: Tensor,
    transition_session_ids: Tensor,
    belief_valid: Tensor,
    transition_valid: Tensor,
    masking: bool,
) -> Tensor:
    """``BoolTensor[B, Tb, Tk]``: M[b, t, k], which transitions belief t must explain.

    With ``masking`` (DynaMITE), M[t, k] = 1 iff σ(k) = σ(t); without it (VariBAD),
    every transition of the trajectory (`docs/method.md §3`). Always restricted to valid
    beliefs t and valid transitions k. Beliefs ``[B, Tb]`` and transitions ``[B, Tk]`` are
    indexed separately so the caller may subsample either.
    """
    both_valid = belief_valid.unsqueeze(2) & transition_valid.unsqueeze(1)
    if not masking:
        return both_valid
    same_session = belief_session_ids.unsqueeze(2) == transition_session_ids.unsqueeze(1)
    return same_session & both_valid


def reconstruction_loss(nll: Tensor, mask: Tensor, belief_valid: Tensor) -> Tensor:
    """Masked reconstruction loss L_rec (`docs/method.md §3`); returns a scalar.

    ``nll[b, t, k]`` (``[B, Tb, Tk]``) is −log p(x_k | m̃_t) for belief t and transition k;
    ``mask`` is :func:`session_mask`. Each valid belief sums its masked NLLs; the result is
    the mean over all valid (b, t) pairs, so a trajectory weighs by its number of valid
    beliefs and one with none contributes nothing.
    """
    per_belief = _zero_where_not(mask, nll).sum(dim=-1)
    total = _zero_where_not(belief_valid, per_belief).sum()
    return _safe_ratio(total, belief_valid.sum())


def select_prior(
    belief_mean: Tensor,
    belief_logvar: Tensor,
    prior_mean: Tensor,
    prior_logvar: Tensor,
    session_ids: Tensor,
    valid: Tensor,
    latent_conditioning: bool,
) -> tuple[Tensor, Tensor]:
    """The prior of each b_t in L_KL (`docs/method.md §3`): ``(mean, logvar)``, ``[B, T, D]``.

    ``belief_*`` are ``[B, T+1, D]`` with index 0 = b_{-1} and index t+1 = b_t.
    ``prior_*`` (``[B, T, D]``) is the latent-dynamics prior p(m | z), z ~ b_{t-1}. It is
    used where a session starts and ``latent_conditioning`` is on; everywhere else the prior
    is the sequential one, b_{t-1} (VariBAD). Padding steps get N(0, I).
    """
    use_latent = (session_starts(session_ids, valid) & latent_conditioning).unsqueeze(-1)
    mean = torch.where(use_latent, prior_mean, belief_mean[:, :-1])
    logvar = torch.where(use_latent, prior_logvar, belief_logvar[:, :-1])
    return _zero_where_not(valid, mean), _zero_where_not(valid, logvar)


def kl_per_step(
    belief_mean: Tensor,
    belief_logvar: Tensor,
    prior_mean: Tensor,
    prior_logvar: Tensor,
    session_ids: Tensor,
    valid: Tensor,
    latent_conditioning: bool,
) -> Tensor:
    """``[B, T]``: KL(b_t ‖ prior_t) per step (`docs/method.md §3`), 0 at padding.

    Arguments as in :func:`select_prior`.
    """
    mean_p, logvar_p = select_prior(
        belief_mean,
        belief_logvar,
        prior_mean,
        prior_logvar,
        session_ids,
        valid,
        latent_conditioning,
    )
    mean_q = _zero_where_not(valid, belief_mean[:, 1:])
    logvar_q = _zero_where_not(valid, belief_logvar[:, 1:])
    return _zero_where_not(valid, gaussian_kl(mean_q, logvar_q, mean_p, logvar_p))


def kl_loss(
    belief_mean: Tensor,
    belief_logvar: Tensor,
    prior_mean: Tensor,
    prior_logvar: Tensor,
    session_ids: Tensor,
    valid: Tensor,
    latent_conditioning: bool,
) -> Tensor:
    """KL loss L_KL with latent belief conditioning (`docs/method.md §3`); returns a scalar.

    Arguments as in :func:`select_prior`. Each trajectory has T_valid + 1 terms: its
    :func:`kl_per_step` terms plus KL(b_{-1} ‖ N(0, I)) (VariBAD's H+1 terms). We average
    them per trajectory [choice], then average over trajectories with a valid step.
    """
    has_steps = valid.any(dim=1)
    initial_mean = _zero_where_not(has_steps, belief_mean[:, 0])
    initial_logvar = _zero_where_not(has_steps, belief_logvar[:, 0])
    zeros = torch.zeros_like(initial_mean)
    initial_kl = gaussian_kl(initial_mean, initial_logvar, zeros, zeros)
    step_kl = kl_per_step(
        belief_mean,
        belief_logvar,
        prior_mean,
        prior_logvar,
        session_ids,
        valid,
        latent_conditioning,
    )
    per_trajectory = (initial_kl + step_kl.sum(dim=1)) / (valid.sum(dim=1) + 1)
    return _safe_ratio(_zero_where_not(has_steps, per_trajectory).sum(), has_steps.sum())


def consistency_loss(
    belief_mean: Tensor,
    belief_logvar: Tensor,
    session_ids: Tensor,
    valid: Tensor,
    pull_only: bool = False,
    reverse: bool = False,
    reduction: str = "sum",
    target_grad: bool = False,
) -> Tensor:
    """Session-consistency loss L_cons (`docs/method.md §3`); returns a scalar.

    ``belief_*`` are ``[B, T, D]`` with index t = b_t (after x_t). With e(t) from
    :func:`session_final_index` and δ_t = KL(b_t ‖ sg(b_{e(t)})), sums
    relu(δ_{t+1} − δ_t) over the t whose successor is valid and in the same session, then
    averages over trajectories with a valid step. The target b_{e(t)} is detached
    (stop-gradient [choice]). The hinge's gradient also *raises* δ_t, i.e. pushes the
    earlier belief of each offending pair away from the session's final belief; with
    ``pull_only`` δ_t is detached too, so the loss only pulls b_{t+1} back towards the
    final belief (the value is the same). With ``reverse``, δ_t = KL(sg(b_{e(t)}) ‖ b_t):
    the forward KL's gradient scales with 1/σ² of the (narrow) final belief, the reverse
    one with 1/σ² of b_t itself. With ``reduction="mean"`` the hinges are averaged over
    the valid same-session pairs of the batch instead (the public reimplementation's
    reading); with ``target_grad`` the gradient also reaches the final belief b_{e(t)}.
    """
    mean = _zero_where_not(valid, belief_mean)
    logvar = _zero_where_not(valid, belief_logvar)
    final = session_final_index(session_ids, valid).unsqueeze(-1).expand_as(mean)
    target_mean = torch.gather(mean, 1, final)
    target_logvar = torch.gather(logvar, 1, final)
    if not target_grad:
        target_mean, target_logvar = target_mean.detach(), target_logvar.detach()
    if reverse:
        distance = gaussian_kl(target_mean, target_logvar, mean, logvar)
    else:
        distance = gaussian_kl(mean, logvar, target_mean, target_logvar)
    same_session_pair = valid[:, 1:] & (session_ids[:, 1:] == session_ids[:, :-1])
    previous = distance[:, :-1].detach() if pull_only else distance[:, :-1]
    increase = _zero_where_not(same_session_pair, F.relu(distance[:, 1:] - previous))
    if reduction == "mean":
        return _safe_ratio(increase.sum(), same_session_pair.sum())
    per_trajectory = increase.sum(dim=1)
    has_steps = valid.any(dim=1)
    return _safe_ratio(_zero_where_not(has_steps, per_trajectory).sum(), has_steps.sum())


def _termination_targets(session_ids: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """``(targets, scored)``, both ``BoolTensor[B, T]``: session starts, and valid t ≥ 1."""
    scored = valid.clone()
    scored[:, 0] = False
    return session_starts(session_ids, valid), scored


def termination_loss(
    logits: Tensor, session_ids: Tensor, valid: Tensor, pos_weight: float
) -> Tensor:
    """Termination-head loss L_term (`docs/method.md §3`); returns a scalar.

    ``logits`` (``[B, T]``) predict that x_t opens a new session. Binary cross-entropy
    against :func:`session_starts`, with positives weighted by ``pos_weight`` (boundaries
    are rare [choice]), averaged over valid t ≥ 1 (t = 0 has no predecessor).
    """
    targets, scored = _termination_targets(session_ids, valid)
    safe_logits = _zero_where_not(scored, logits)
    bce = F.binary_cross_entropy_with_logits(
        safe_logits,
        targets.to(logits.dtype),
        pos_weight=torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device),
        reduction="none",
    )
    return _safe_ratio(_zero_where_not(scored, bce).sum(), scored.sum())


def boundary_threshold(pos_weight: float) -> float:
    """The logit above which a boundary is more likely than not, for a head trained with
    boundary steps weighted by ``pos_weight`` (:func:`termination_loss`).

    The weighted loss's optimum is ``logit = log(pos_weight · q / (1 - q))`` for a true
    boundary probability ``q``, so a logit of 0 means ``q = 1 / (1 + pos_weight)``: with
    the default weight ``(1 - p) / p`` it flags every step as likely as a random one, and
    precision collapses. ``q > 1/2`` is ``logit > log(pos_weight)``.
    """
    return math.log(pos_weight) if pos_weight > 0 else 0.0


def termination_metrics(
    logits: Tensor, session_ids: Tensor, valid: Tensor, threshold: float = 0.0
) -> dict[str, Tensor]:
    """Accuracy, precision, recall and F1 of the termination head over valid t ≥ 1.

    ``logits`` ``[B, T]``; a step is predicted as a session start when its logit exceeds
    ``threshold``. Returns detached scalars under keys ``accuracy``, ``precision``,
    ``recall``, ``f1``; any ratio whose denominator is 0 (e.g. precision with no
    predicted start) is defined as 0.
    """
    targets, scored = _termination_targets(session_ids, valid)
    predicted = (logits.detach() > threshold) & scored
    targets = targets & scored
    true_pos = (predicted & targets).sum().float()
    false_pos = (predicted & ~targets).sum().float()
    false_neg = (~predicted & targets).sum().float()
    correct = ((predicted == targets) & scored).sum().float()
    precision = _safe_ratio(true_pos, true_pos + false_pos)
    recall = _safe_ratio(true_pos, true_pos + false_neg)
    return {
        "accuracy": _safe_ratio(correct, scored.sum().float()),
        "precision": precision,
        "recall": recall,
        "f1": _safe_ratio(2 * precision * recall, precision + recall),
    }


def session_ids_from_termination(logits: Tensor, valid: Tensor, threshold: float = 0.0) -> Tensor:
    """``LongTensor[B, T]``: σ built from the termination head (label-free mode, §3).

    σ(0) = 0 and σ(t) = σ(t-1) + 1[logits[t] > threshold] for t ≥ 1; padding steps keep
    the last valid value.
    """
    boundaries = (logits > threshold) & valid
    boundaries[:, 0] = False
    return torch.cumsum(boundaries.long(), dim=1)
