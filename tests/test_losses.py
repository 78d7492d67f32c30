"""Tests for rllib_dynamite.losses on small hand-computed cases (docs/method.md §3)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from rllib_dynamite.losses import (
    consistency_loss,
    gaussian_kl,
    kl_loss,
    kl_per_step,
    reconstruction_loss,
    select_prior,
    session_final_index,
    session_ids_from_termination,
    session_mask,
    session_starts,
    termination_loss,
    termination_metrics,
)

# Two trajectories: a full two-session one, and a shorter one padded after 3 steps.
SESSION_IDS = torch.tensor([[0, 0, 0, 1, 1], [0, 1, 1, 1, 1]])
VALID = torch.tensor([[True] * 5, [True, True, True, False, False]])


def reference_kl(mean_q, logvar_q, mean_p, logvar_p):
    """KL of diagonal Gaussians via torch.distributions, summed over the last dim."""
    q = Normal(mean_q, torch.exp(0.5 * logvar_q))
    p = Normal(mean_p, torch.exp(0.5 * logvar_p))
    return kl_divergence(q, p).sum(-1)


def random_beliefs(batch, steps, dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, steps, dim, generator=generator),
        0.5 * torch.randn(batch, steps, dim, generator=generator),
    )


# --- gaussian_kl ------------------------------------------------------------------


def test_gaussian_kl_of_identical_gaussians_is_zero():
    mean, logvar = random_beliefs(2, 3, 4)
    assert torch.allclose(gaussian_kl(mean, logvar, mean, logvar), torch.zeros(2, 3))


def test_gaussian_kl_matches_hand_formula_in_1d():
    # q = N(1, 2), p = N(0, 4): KL = 0.5 * (log(4/2) + (2 + 1) / 4 - 1).
    kl = gaussian_kl(
        torch.tensor([1.0]),
        torch.tensor([math.log(2.0)]),
        torch.tensor([0.0]),
        torch.tensor([math.log(4.0)]),
    )
    assert kl.item() == pytest.approx(0.5 * (math.log(2.0) + 0.75 - 1.0))


def test_gaussian_kl_matches_torch_distributions():
    mean_q, logvar_q = random_beliefs(2, 3, 4, seed=1)
    mean_p, logvar_p = random_beliefs(2, 3, 4, seed=2)
    expected = reference_kl(mean_q, logvar_q, mean_p, logvar_p)
    assert torch.allclose(gaussian_kl(mean_q, logvar_q, mean_p, logvar_p), expected, atol=1e-6)


# --- session bookkeeping ----------------------------------------------------------


def test_session_starts_marks_boundaries_only():
    expected = torch.tensor(
        [[False, False, False, True, False], [False, True, False, False, False]]
    )
    assert torch.equal(session_starts(SESSION_IDS, VALID), expected)


def test_session_final_index():
    expected = torch.tensor([[2, 2, 2, 4, 4], [0, 2, 2, 3, 4]])  # padding maps to itself
    assert torch.equal(session_final_index(SESSION_IDS, VALID), expected)
    three_sessions = torch.tensor([[0, 1, 1, 2]])
    assert session_final_index(three_sessions, torch.ones(1, 4, dtype=torch.bool)).tolist() == [
        [0, 2, 2, 3]
    ]


def test_session_mask_two_sessions():
    ids, valid = SESSION_IDS[:1], VALID[:1]
    expected = torch.tensor(
        [
            [1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [0, 0, 0, 1, 1],
            [0, 0, 0, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(session_mask(ids, ids, valid, valid, masking=True)[0], expected)


def test_session_mask_without_masking_is_all_ones_within_valid():
    mask = session_mask(SESSION_IDS, SESSION_IDS, VALID, VALID, masking=False)
    assert mask[0].all()
    expected_padded = torch.zeros(5, 5, dtype=torch.bool)
    expected_padded[:3, :3] = True
    assert torch.equal(mask[1], expected_padded)


def test_session_mask_excludes_padding_and_allows_subsampling():
    mask = session_mask(SESSION_IDS, SESSION_IDS, VALID, VALID, masking=True)
    expected_padded = torch.zeros(5, 5, dtype=torch.bool)
    expected_padded[0, 0] = True
    expected_padded[1:3, 1:3] = True
    assert torch.equal(mask[1], expected_padded)
    # Beliefs at steps (0, 4), transitions at steps (1, 3) of the first trajectory.
    sub = session_mask(
        SESSION_IDS[:1, [0, 4]],
        SESSION_IDS[:1, [1, 3]],
        VALID[:1, [0, 4]],
        VALID[:1, [1, 3]],
        masking=True,
    )
    assert sub[0].tolist() == [[True, False], [False, True]]


# --- reconstruction ---------------------------------------------------------------


def test_reconstruction_loss_hand_case():
    nll = torch.arange(25, dtype=torch.float32).reshape(1, 5, 5)
    mask = session_mask(SESSION_IDS[:1], SESSION_IDS[:1], VALID[:1], VALID[:1], masking=True)
    # Beliefs 0-2 sum columns 0-2, beliefs 3-4 sum columns 3-4.
    per_belief = [0 + 1 + 2, 5 + 6 + 7, 10 + 11 + 12, 18 + 19, 23 + 24]
    expected = sum(per_belief) / 5
    assert reconstruction_loss(nll, mask, VALID[:1]).item() == pytest.approx(expected)


def test_reconstruction_without_masking_equals_naive_varibad_sum():
    nll = torch.rand(2, 5, 5, generator=torch.Generator().manual_seed(3))
    mask = session_mask(SESSION_IDS, SESSION_IDS, VALID, VALID, masking=False)
    total, count = 0.0, 0
    for b in range(2):
        length = int(VALID[b].sum())
        for t in range(length):
            total += sum(nll[b, t, k].item() for k in range(length))
            count += 1
    assert reconstruction_loss(nll, mask, VALID).item() == pytest.approx(total / count, rel=1e-6)


# --- KL -----------------------------------------------------------------------------


def kl_inputs(seed=0):
    belief_mean, belief_logvar = random_beliefs(2, 6, 3, seed=seed)
    prior_mean, prior_logvar = random_beliefs(2, 5, 3, seed=seed + 100)
    return belief_mean, belief_logvar, prior_mean, prior_logvar


def test_kl_prior_switches_exactly_at_the_session_boundary():
    belief_mean, belief_logvar, prior_mean, prior_logvar = kl_inputs()
    args = (belief_mean, belief_logvar, prior_mean, prior_logvar, SESSION_IDS, VALID)
    mean_p, logvar_p = select_prior(*args, latent_conditioning=True)
    steps = kl_per_step(*args, latent_conditioning=True)
    boundaries = {(0, 3), (1, 1)}
    for b in range(2):
        for t in range(int(VALID[b].sum())):
            if (b, t) in boundaries:
                expected_mean, expected_logvar = prior_mean[b, t], prior_logvar[b, t]
            else:  # sequential prior b_{t-1}, at index t of the belief tensors
                expected_mean, expected_logvar = belief_mean[b, t], belief_logvar[b, t]
            assert torch.equal(mean_p[b, t], expected_mean)
            assert torch.equal(logvar_p[b, t], expected_logvar)
            expected_kl = reference_kl(
                belief_mean[b, t + 1], belief_logvar[b, t + 1], expected_mean, expected_logvar
            )
            assert steps[b, t].item() == pytest.approx(expected_kl.item(), rel=1e-5)
    assert torch.equal(steps[1, 3:], torch.zeros(2))


def test_kl_without_conditioning_uses_the_sequential_prior_everywhere():
    belief_mean, belief_logvar, prior_mean, prior_logvar = kl_inputs()
    args = (belief_mean, belief_logvar, prior_mean, prior_logvar, SESSION_IDS, VALID)
    steps = kl_per_step(*args, latent_conditioning=False)
    sequential = reference_kl(
        belief_mean[:, 1:], belief_logvar[:, 1:], belief_mean[:, :-1], belief_logvar[:, :-1]
    )
    assert torch.allclose(steps, torch.where(VALID, sequential, 0.0), atol=1e-6)


def test_kl_loss_without_conditioning_equals_naive_varibad_loop():
    belief_mean, belief_logvar, prior_mean, prior_logvar = kl_inputs(seed=4)
    loss = kl_loss(belief_mean, belief_logvar, prior_mean, prior_logvar, SESSION_IDS, VALID, False)
    per_trajectory = []
    for b in range(2):
        zeros = torch.zeros(3)
        terms = [reference_kl(belief_mean[b, 0], belief_logvar[b, 0], zeros, zeros)]
        for t in range(int(VALID[b].sum())):
            terms.append(
                reference_kl(
                    belief_mean[b, t + 1],
                    belief_logvar[b, t + 1],
                    belief_mean[b, t],
                    belief_logvar[b, t],
                )
            )
        per_trajectory.append(sum(terms) / len(terms))
    assert loss.item() == pytest.approx((sum(per_trajectory) / 2).item(), rel=1e-5)


# --- consistency --------------------------------------------------------------------


def one_d_beliefs(means):
    mean = torch.tensor(means, dtype=torch.float32).reshape(1, -1, 1).requires_grad_()
    return mean, torch.zeros_like(mean, requires_grad=True)


def test_consistency_is_zero_when_delta_decreases_within_each_session():
    # δ = (2, 0.5, 0 | 0.5, 0): it rises across the boundary, which is not penalised.
    mean, logvar = one_d_beliefs([3.0, 2.0, 1.0, 5.0, 4.0])
    loss = consistency_loss(mean, logvar, SESSION_IDS[:1], VALID[:1])
    assert loss.item() == 0.0


def test_consistency_penalises_a_non_monotone_session():
    # Session 0: δ = (0.5, 4.5, 0): penalty relu(4.5 - 0.5) = 4.
    mean, logvar = one_d_beliefs([1.0, 3.0, 0.0, 5.0, 4.0])
    loss = consistency_loss(mean, logvar, SESSION_IDS[:1], VALID[:1])
    assert loss.item() == pytest.approx(4.0)


def test_consistency_gradient_does_not_reach_the_final_belief():
    mean, logvar = one_d_beliefs([1.0, 3.0, 0.0, 5.0, 4.0])
    consistency_loss(mean, logvar, SESSION_IDS[:1], VALID[:1]).backward()
    assert mean.grad[0, 1, 0].item() != 0.0  # the belief that moved away is pulled back
    assert mean.grad[0, 2, 0].item() == 0.0  # the session's final belief is a fixed target
    assert logvar.grad[0, 2, 0].item() == 0.0


@pytest.mark.parametrize("pull_only", [False, True])
def test_consistency_pull_only_never_pushes_a_belief_away(pull_only):
    # Session 0: δ = (0.5, 4.5, 0); the offending pair is (b_0, b_1).
    mean, logvar = one_d_beliefs([1.0, 3.0, 0.0, 5.0, 4.0])
    loss = consistency_loss(mean, logvar, SESSION_IDS[:1], VALID[:1], pull_only=pull_only)
    assert loss.item() == pytest.approx(4.0)  # the same value either way
    loss.backward()
    # Descending the gradient moves b_0 (mean 1, final belief 0) by -grad: with the full
    # hinge, away from the final belief (raising δ_0); with pull_only, not at all.
    if pull_only:
        assert mean.grad[0, 0, 0].item() == 0.0
    else:
        assert mean.grad[0, 0, 0].item() < 0.0
    assert mean.grad[0, 1, 0].item() > 0.0  # b_1 (mean 3) is pulled back towards 0


def test_consistency_reverse_kl_is_well_conditioned_near_a_narrow_final_belief():
    # Session 0 = steps 0-2; its final belief (step 2) is narrow: σ² = e^-6.
    mean = torch.tensor([1.0, 3.0, 0.0, 5.0, 4.0]).reshape(1, -1, 1).requires_grad_()
    logvar = torch.tensor([0.0, 0.0, -6.0, 0.0, 0.0]).reshape(1, -1, 1)
    args = (SESSION_IDS[:1], VALID[:1])
    equal = torch.zeros_like(logvar)  # equal variances: the two directions agree
    forward, reverse = (
        consistency_loss(mean, equal, *args, reverse=r).item() for r in (False, True)
    )
    assert forward == pytest.approx(reverse) == pytest.approx(4.0)
    grads = []
    for r in (False, True):
        mean.grad = None
        consistency_loss(mean, logvar, *args, reverse=r).backward()
        grads.append(mean.grad[0, 1, 0].abs().item())
    assert grads[0] > 100 * grads[1]  # forward: ∝ 1/σ²_final; reverse: ∝ 1/σ²_t


def test_consistency_averages_over_trajectories():
    mean = torch.tensor([[1.0, 3.0, 0.0, 5.0, 4.0], [0.0, 1.0, 2.0, 0.0, 0.0]]).unsqueeze(-1)
    # Second trajectory: session 1 is steps 1-2, δ = (0.5, 0): no penalty.
    loss = consistency_loss(mean, torch.zeros_like(mean), SESSION_IDS, VALID)
    assert loss.item() == pytest.approx(4.0 / 2)


def test_consistency_mean_averages_the_hinges_over_same_session_pairs():
    mean = torch.tensor([[1.0, 3.0, 0.0, 5.0, 4.0], [0.0, 1.0, 2.0, 0.0, 0.0]]).unsqueeze(-1)
    args = (mean, torch.zeros_like(mean), SESSION_IDS, VALID)
    pairs = int((VALID[:, 1:] & (SESSION_IDS[:, 1:] == SESSION_IDS[:, :-1])).sum())
    # One hinge of 4 among all the batch's valid same-session pairs.
    assert consistency_loss(*args, reduction="mean").item() == pytest.approx(4.0 / pairs)
    assert consistency_loss(*args).item() == pytest.approx(4.0 / 2)


def test_consistency_target_grad_reaches_the_final_belief():
    mean, logvar = one_d_beliefs([1.0, 3.0, 0.0, 5.0, 4.0])
    consistency_loss(mean, logvar, SESSION_IDS[:1], VALID[:1], target_grad=True).backward()
    assert mean.grad[0, 2, 0].item() != 0.0  # the final belief moves too


# --- termination --------------------------------------------------------------------


def test_termination_loss_matches_torch_bce_and_ignores_t0_and_padding():
    ids = torch.tensor([[0, 0, 1, 1, 1]])
    valid = torch.tensor([[True, True, True, True, False]])
    logits = torch.tensor([[0.5, -1.0, 2.0, 0.3, 7.0]])
    expected = F.binary_cross_entropy_with_logits(
        torch.tensor([-1.0, 2.0, 0.3]), torch.tensor([0.0, 1.0, 0.0]), pos_weight=torch.tensor(5.0)
    )
    assert termination_loss(logits, ids, valid, 5.0).item() == pytest.approx(expected.item())
    hand = -(5.0 * math.log(torch.sigmoid(torch.tensor(2.0)).item()))
    hand -= math.log(1 - torch.sigmoid(torch.tensor(-1.0)).item())
    hand -= math.log(1 - torch.sigmoid(torch.tensor(0.3)).item())
    assert expected.item() == pytest.approx(hand / 3)
    changed = logits.clone()
    changed[0, 0], changed[0, 4] = -30.0, -30.0
    assert termination_loss(changed, ids, valid, 5.0).item() == pytest.approx(expected.item())


def test_termination_metrics_hand_case():
    ids = torch.tensor([[0, 0, 1, 1, 2, 2]])
    valid = torch.ones(1, 6, dtype=torch.bool)
    # t >= 1: targets (0, 1, 0, 1, 0); predictions (1, 1, 0, 0, 0): TP 1, FP 1, FN 1, TN 2.
    logits = torch.tensor([[9.0, 1.0, 1.0, -1.0, -1.0, -1.0]])
    metrics = termination_metrics(logits, ids, valid)
    assert metrics["accuracy"].item() == pytest.approx(3 / 5)
    assert metrics["precision"].item() == pytest.approx(0.5)
    assert metrics["recall"].item() == pytest.approx(0.5)
    assert metrics["f1"].item() == pytest.approx(0.5)


def test_termination_metrics_define_zero_over_zero_as_zero():
    ids = torch.zeros(1, 4, dtype=torch.long)
    metrics = termination_metrics(-torch.ones(1, 4), ids, torch.ones(1, 4, dtype=torch.bool))
    assert metrics["accuracy"].item() == 1.0
    assert metrics["precision"].item() == metrics["recall"].item() == metrics["f1"].item() == 0.0


def test_session_ids_from_termination_round_trips_from_perfect_logits():
    ids = torch.tensor([[0, 0, 1, 1, 2], [0, 1, 1, 1, 1]])  # padding repeats the last id
    logits = torch.where(session_starts(ids, VALID), 5.0, -5.0)
    logits[:, 0] = 5.0  # t = 0 never opens a session
    logits[1, 3:] = 5.0  # padding never opens one either
    assert torch.equal(session_ids_from_termination(logits, VALID), ids)


# --- padding ------------------------------------------------------------------------


def all_losses(belief_mean, belief_logvar, prior_mean, prior_logvar, nll, logits):
    mask = session_mask(SESSION_IDS, SESSION_IDS, VALID, VALID, masking=True)
    return torch.stack(
        [
            reconstruction_loss(nll, mask, VALID),
            kl_loss(belief_mean, belief_logvar, prior_mean, prior_logvar, SESSION_IDS, VALID, True),
            consistency_loss(belief_mean[:, 1:], belief_logvar[:, 1:], SESSION_IDS, VALID),
            termination_loss(logits, SESSION_IDS, VALID, 3.0),
        ]
    )


def test_nan_in_padded_slots_changes_neither_losses_nor_gradients():
    belief_mean, belief_logvar, prior_mean, prior_logvar = kl_inputs(seed=5)
    nll = torch.rand(2, 5, 5, generator=torch.Generator().manual_seed(6))
    logits = torch.randn(2, 5, generator=torch.Generator().manual_seed(7))
    clean = [belief_mean, belief_logvar, prior_mean, prior_logvar, nll, logits]
    poisoned = [x.clone() for x in clean]
    for x in poisoned[:2]:
        x[1, 4:] = float("nan")  # b_3, b_4 of the padded trajectory
    for x in poisoned[2:]:
        x[1, 3:] = float("nan")
    poisoned[4][1, :, 3:] = float("nan")  # padded transitions seen by valid beliefs
    results = []
    for inputs in (clean, poisoned):
        leaves = [x.clone().requires_grad_() for x in inputs]
        losses = all_losses(*leaves)
        losses.sum().backward()
        results.append((losses, [leaf.grad for leaf in leaves]))
    (clean_losses, clean_grads), (poisoned_losses, poisoned_grads) = results
    assert torch.allclose(clean_losses, poisoned_losses)
    for clean_grad, poisoned_grad in zip(clean_grads, poisoned_grads, strict=True):
        assert torch.isfinite(poisoned_grad).all()
        assert torch.allclose(clean_grad, poisoned_grad)
