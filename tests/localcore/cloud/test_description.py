"""The cloud description: a strict schema (every unknown key refused and named, references
checked), read from YAML or JSON, and what the embedded cloud makes of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcore.cloud.description import (
    CloudDescription,
    CloudDescriptionError,
    dump_cloud_description,
    load_cloud_description,
    parse_cloud_description,
)
from tests.localcore.cloud.description import DESCRIPTION, DESCRIPTION_FILE

RULE = {"name": "r", "sql": "SELECT * FROM 'a/b'"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"bukets": ["b"]}, "bukets: unknown key; expected one of region, account, buckets, tables"),
        ({"tables": [{"name": "t", "hashKey": "k", "sortKey": "s"}]}, "tables[0].sortKey: unknown key; expected one of name, hashKey, rangeKey"),
        ({"roleAlias": {"nam": "x"}}, "roleAlias.nam: unknown key; expected one of name, role"),
        ({"topicRules": [{**RULE, "dynamodb": {"table": "t", "hashKey": "k"}}], "tables": [{"name": "t", "hashKey": "k"}]}, "topicRules[0].dynamodb.hashKey: unknown key; expected one of table"),
        ({"tables": [{"name": "t"}]}, "tables[0]: Object missing required field `hashKey`"),
        ({"buckets": "b"}, "buckets: Expected `array`, got `str`"),
        ({"things": [1]}, "things[0]: Expected `str`, got `int`"),
        ({"account": "12"}, "account: expected 12 digits, got '12'"),
        ({"topicRules": [RULE]}, "topicRules[0] (r): expected exactly one action, dynamodb or s3; got 0"),
        ({"topicRules": [{**RULE, "dynamodb": {"table": "t"}}]}, "topicRules[0].dynamodb.table: 't' is not a table of this description"),
        ({"topicRules": [{**RULE, "s3": {"bucket": "b", "key": "k"}}]}, "topicRules[0].s3.bucket: 'b' is not a bucket of this description"),
        ({"buckets": ["b"], "topicRules": [{**RULE, "s3": {"bucket": "b", "key": "${clientid()}"}}]}, "topicRules[0].s3.key: unsupported substitution ${clientid()}"),
        ({"iotPolicy": {"name": "p", "document": {"Version": "2012-10-17"}}}, 'iotPolicy.document: expected a policy document with "Version" and a "Statement" list'),
        ({"shadowSync": {"direction": "up"}}, "shadowSync: synchronize.direction: expected one of betweenDeviceAndCloud"),
        ([], "expected a mapping at the top level, got list"),
    ],
)  # fmt: skip
def test_a_bad_description_names_the_key_and_what_was_expected(raw: Any, message: str) -> None:
    with pytest.raises(CloudDescriptionError) as caught:
        parse_cloud_description(raw)
    assert str(caught.value).startswith(message)


def test_an_empty_description_is_the_cores_thing_and_a_role_alias() -> None:
    description = parse_cloud_description({})
    assert description == CloudDescription()
    assert description.all_things("dev-1") == ("dev-1",)
    assert description.role_alias_arn() == (
        "arn:aws:iot:us-east-1:123456789012:rolealias/localcore-token-exchange-role-alias"
    )


def test_every_thing_once_core_first_then_listed_then_group_members() -> None:
    description = parse_cloud_description(
        {"things": ["a", "core"], "thingGroups": [{"name": "g", "things": ["b", "a"]}]}
    )
    assert description.all_things("core") == ("core", "a", "b")


def test_s3_keys_take_iot_substitution_templates_and_keep_literal_braces() -> None:
    description = parse_cloud_description(
        {
            "buckets": ["b"],
            "topicRules": [{**RULE, "s3": {"bucket": "b", "key": "x/{y}/${topic()}-${timestamp()}"}}],
        }
    )
    action = description.topic_rules[0].s3
    assert action is not None
    assert action.key_template.format(topic="a/b", timestamp=5) == "x/{y}/a/b-5"


def test_files_in_yaml_and_json_read_the_same(tmp_path: Path) -> None:
    as_json = tmp_path / "cloud.json"
    as_json.write_text(dump_cloud_description(DESCRIPTION))
    assert load_cloud_description(as_json) == load_cloud_description(DESCRIPTION_FILE) == DESCRIPTION
    assert json.loads(dump_cloud_description(DESCRIPTION))["roleAlias"]["name"] == "factory-role-alias"


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CloudDescriptionError, match=r"nope.yaml: cannot read the cloud description"):
        load_cloud_description(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("buckets: [a\n")
    with pytest.raises(CloudDescriptionError, match=r"broken.yaml: not YAML or JSON"):
        load_cloud_description(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("tables: [{name: t, hashkey: k}]\n")
    with pytest.raises(
        CloudDescriptionError, match=r"wrong.yaml: tables\[0\].hashkey: unknown key; expected one of"
    ):
        load_cloud_description(wrong)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_cloud_description(empty) == CloudDescription()
