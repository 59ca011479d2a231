"""The wiring JSON Schema is generated from the validator's declarations: every canonical wiring
validates against it, and the schema-level files of the malformed-wiring corpus fail it."""

import json
from pathlib import Path

import jsonschema
import pytest

from brainsim.cli import main
from brainsim.schema import wiring_schema
from brainsim.wiring import load_yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "wiring_errors"
# corpus files whose mistake is one of structure, names or types (what a JSON Schema can say); the rest
# need the graph (dimensions, cycles, which inputs exist) or YAML-level checks
SCHEMA_LEVEL = """area_option_wrong_type area_without_type areas_is_a_list connection_syntax connections_not_a_list
cost_unknown_loss cost_unknown_term cost_weight_not_a_number credit_unknown fractional_delay gate_not_a_reference
huge_delay input_dim_not_an_integer input_dim_zero missing_inputs_section negative_delay optimizer_bad_argument_value
optimizer_learning_rate_exponent optimizer_missing_argument optimizer_two_names_in_one_entry optimizer_unknown_argument
optimizer_unknown_name projection_unknown replicas_zero rule_name_not_a_string rule_unknown_name rule_unknown_option
schedule_missing_argument schedule_two_names schedule_unknown_argument schedule_unknown_name string_delay
top_level_is_a_list unknown_area_option unknown_area_type unknown_connection_key unknown_top_level_key""".split()


@pytest.fixture(scope="module")
def validator():
    schema = wiring_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _doc(path: Path):
    return load_yaml(path.read_text(encoding="utf-8"), str(path))[0]


@pytest.mark.parametrize("path", sorted((ROOT / "wiring").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_canonical_wiring_validates_against_the_schema(validator, path):
    errors = [e.message for e in validator.iter_errors(_doc(path))]
    assert not errors, errors[:3]


def test_schema_level_corpus_files_fail_the_schema(validator):
    accepted = [name for name in SCHEMA_LEVEL if validator.is_valid(_doc(CORPUS / f"{name}.yaml"))]
    assert not accepted, f"the schema accepts malformed wirings: {accepted}"


def test_schema_knows_every_area_option_and_rule(validator):
    good = {"inputs": {"x": 4}, "areas": {"c": {"type": "cortex", "hidden": 8, "sparsity": "kwta", "k": 2,
                                                 "rule": {"name": "backprop"},
                                                 "costs": {"reconstruction": 1.0, "activity_l1": {"weight": 0.1}}}},
            "connections": ["x -> c.input"]}
    assert validator.is_valid(good)
    for bad in ({"sparsity": "lots"}, {"hidden": "big"}, {"hiden": 8}, {"rule": "backpropp"},
                {"costs": {"td": 1.0}}, {"credit": "globl"}):
        doc = json.loads(json.dumps(good))
        doc["areas"]["c"].update(bad)
        assert not validator.is_valid(doc), bad


def test_brainsim_schema_prints_the_schema_and_writes_a_file(tmp_path, capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "brainsim wiring" and "areas" in printed["properties"]
    out = tmp_path / "wiring.schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == printed
    assert "yaml-language-server" in capsys.readouterr().err
