"""The rule set loads, validates, and can be extended or overridden from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnose.errors import RuleError
from diagnose.explain import explain
from diagnose.rules import SYMPTOMS, load_rules

CONTRACT_SYMPTOMS = {
    "non_finite", "loss_spike", "divergence", "exploding_gradients", "vanishing_gradients",
    "plateau", "oscillation", "overfitting", "stuck_at_chance", "underfitting",
}
CONTRACT_CAUSES = {
    "lr_too_high", "lr_too_low", "missing_grad_clipping", "bad_initialization",
    "saturating_activation", "missing_normalization", "bad_input_data", "numerical_instability",
    "saddle_point", "optimizer_choice", "wrong_loss_function", "insufficient_regularization",
    "insufficient_capacity", "data_pipeline",
}


def test_every_contract_symptom_has_a_rule_and_every_cause_is_in_the_catalog():
    ruleset = load_rules()
    assert CONTRACT_SYMPTOMS <= {r.symptom for r in ruleset.rules.values()}
    assert CONTRACT_SYMPTOMS <= set(SYMPTOMS)
    assert set(ruleset.causes) == CONTRACT_CAUSES


def test_every_rule_documents_what_why_example_and_fixes():
    for rule in load_rules().rules.values():
        for part in ("what", "why", "example", "fixes"):
            assert rule.doc.get(part), f"{rule.id} lacks doc.{part}"


def test_user_rules_override_by_id_and_add_new_ones(tmp_path: Path):
    (tmp_path / "loss-spike.toml").write_text(
        'id = "loss-spike"\nsymptom = "loss_spike"\nseverity = "warning"\n'
        'detector = "spikes.robust_jump"\nrequires = ["loss"]\n[params]\nmin_z = 20.0\n'
    )
    (tmp_path / "val-spike.toml").write_text(
        'id = "val-spike"\nsymptom = "loss_spike"\nseverity = "warning"\n'
        'detector = "spikes.robust_jump"\nrequires = ["val_loss"]\n[params]\nsignal = "val_loss"\n'
    )
    builtin = load_rules()
    ruleset = load_rules([tmp_path])
    assert ruleset.rules["loss-spike"].params == {"min_z": 20.0}
    assert ruleset.rules["loss-spike"].severity == "warning"
    assert "val-spike" in ruleset.rules
    assert len(ruleset.rules) == len(builtin.rules) + 1


@pytest.mark.parametrize(
    "text, complaint",
    [
        ('id = "x"\nsymptom = "not_a_symptom"\ndetector = "spikes.robust_jump"\n', "unknown symptom"),
        ('id = "x"\nsymptom = "loss_spike"\ndetector = "spikes.nope"\n', "unknown detector"),
        ('id = "x"\nsymptom = "loss_spike"\ndetector = "spikes.robust_jump"\n'
         '[[causes]]\ncause = "gremlins"\n', "unknown cause"),
        ('id = "x"\nsymptom = "loss_spike"\ndetector = "spikes.robust_jump"\n'
         '[[causes]]\ncause = "lr_too_high"\nevidence = { vibes = 1.0 }\n', "unknown evidence"),
        ('id = "x"\nsymptom = ', "not valid TOML"),
        ('symptom = "loss_spike"\n', "missing or malformed"),
    ],
)
def test_a_bad_rule_file_is_refused_with_its_path(tmp_path: Path, text: str, complaint: str):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(RuleError, match=complaint) as info:
        load_rules([tmp_path])
    assert "bad.toml" in str(info.value)


def test_explain_prints_mechanism_and_fixes_for_symptoms_and_causes():
    ruleset = load_rules()
    spike = explain("loss_spike", ruleset)
    assert "Why it happens" in spike and "lr_too_high" in spike and "Fixes" in spike
    vanishing = explain("vanishing-gradients", ruleset)
    assert "1/4" in vanishing  # the sigmoid-derivative mechanism, from the rule doc
    clipping = explain("missing_grad_clipping", ruleset)
    assert "clip_grad_norm_" in clipping and "exploding_gradients" in clipping
