"""Wrong solutions of lab 7: each is the instructor notebook with these (old, new) source edits.

Names starting with "overfit" pass every public test and must be caught by the hidden tests.
"""
MUTANTS = {
    "labels_keep_the_prompt": [
        ("labels = torch.cat([torch.full_like(prompt, -100), answer])", "labels = torch.cat([prompt, answer])"),
    ],
    "overfit_padding_labelled_with_pad_id": [  # the public test does not pad
        ("torch.full((n_pad,), -100, dtype=torch.long)", "torch.full((n_pad,), pad_id, dtype=torch.long)"),
    ],
    "loss_without_the_shift": [  # logits at t scored against the token at t, not t + 1
        ("target = labels[:, 1:]                       # position t", "target = labels[:, :-1]                       # position t"),
    ],
    "overfit_loss_mean_of_row_means": [  # right when the batch has one row, as in the public test
        ("return torch.where(keep, nll, 0.0).sum() / keep.sum()",
         "return (torch.where(keep, nll, 0.0).sum(1) / keep.sum(1)).mean()"),
    ],
    "sequence_logp_mean_not_sum": [
        ("return torch.where(answer, token_logp, 0.0).sum(dim=1)", "return torch.where(answer, token_logp, 0.0).mean(dim=1)"),
    ],
    "overfit_sequence_logp_scores_a_row_without_answer": [  # returns 0 instead of raising
        ("    if not bool(answer.any(dim=1).all()):\n", "    if False:\n"),
    ],
    "dpo_sum_not_mean": [
        ("return -F.logsigmoid(beta * margin).mean()", "return -F.logsigmoid(beta * margin).sum()"),
    ],
    "overfit_dpo_beta_fixed_at_0_1": [  # the public test uses beta = 0.1
        ("return -F.logsigmoid(beta * margin).mean()", "return -F.logsigmoid(0.1 * margin).mean()"),
    ],
    "accuracy_ignores_the_reference": [  # the model's own ranking, not the implicit reward
        ("margin = beta * ((pc - rc) - (pr - rr))", "margin = beta * (pc - pr)"),
    ],
    "ties_count_as_wrong": [
        ("accuracy = ((margin > 0).float() + 0.5 * (margin == 0).float()).mean().item()",
         "accuracy = (margin > 0).float().mean().item()"),
    ],
    "overfit_accuracy_on_the_first_pair_only": [
        ("pad_to=length) for pair in pairs]", "pad_to=length) for pair in pairs[:1]]"),
    ],
    "overfit_loss_at_the_default_beta": [
        ("return accuracy, dpo_loss(pc, pr, rc, rr, beta).item()", "return accuracy, dpo_loss(pc, pr, rc, rr).item()"),
    ],
}
