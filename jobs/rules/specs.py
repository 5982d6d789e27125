"""What each rule is called, which parameters it takes and what its failure says.

Pure Python (no Spark), so the catalog loader can reject an unknown rule or a missing parameter in
milliseconds, before any job starts. The Column implementations live beside this module and are
looked up by the same names in `jobs.rules.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class RuleSpec:
    """The contract of one rule."""

    name: str
    kind: Literal["item", "check"]
    required_params: tuple[str, ...] = ()
    optional_params: tuple[str, ...] = ()
    message_en: str = ""
    message_zh: str = ""


_SPECS = (
    RuleSpec("not_null", "item", message_en="required value is missing", message_zh="必填项为空"),
    RuleSpec("empty", "item", message_en="must be empty here", message_zh="此处应为空"),
    RuleSpec("in_set", "item", ("values",), message_en="value is not one of the allowed values",
             message_zh="取值不在允许范围内"),
    RuleSpec("range", "item", (), ("min", "max"), message_en="value is out of range", message_zh="数值超出范围"),
    RuleSpec("length", "item", (), ("min", "max"), message_en="length is out of range", message_zh="长度不符合要求"),
    RuleSpec("unique", "item", (), ("scope",), message_en="value is not unique", message_zh="取值重复"),
    RuleSpec("regex", "item", ("pattern",), message_en="value does not match the expected pattern",
             message_zh="格式不符合要求"),
    RuleSpec("cn_resident_id", "item", (), ("allow_legacy",), message_en="not a valid resident ID number",
             message_zh="公民身份号码无效"),
    RuleSpec("cn_uscc", "item", message_en="not a unified social credit code", message_zh="统一社会信用代码格式错误"),
    RuleSpec("cn_uscc_checksum", "item", message_en="unified social credit code check character mismatch",
             message_zh="统一社会信用代码校验位错误"),
    RuleSpec("cn_mobile", "item", message_en="not a valid mobile number", message_zh="手机号码无效"),
    RuleSpec("cn_division", "item", ("level",), ("within", "parent"),
             message_en="unknown administrative division code", message_zh="行政区划代码无效"),
    RuleSpec("references", "item", ("resource", "item"), message_en="refers to a record the lake does not hold",
             message_zh="关联记录不存在"),
    RuleSpec("not_before", "check", ("field", "other"), message_en="is earlier than", message_zh="早于"),
)

RULE_SPECS: dict[str, RuleSpec] = {s.name: s for s in _SPECS}

#: Rules the conform step adds by itself; they are not named in the catalog.
IMPLICIT_RULES: dict[str, tuple[str, str]] = {
    "type": ("value cannot be read as", "无法解析为"),
    "duplicate_key": ("duplicate primary key in the batch; first seen at line", "主键重复，首次出现于第 {detail} 行"),
    "malformed_record": ("record cannot be read as the format says",
                         "记录格式错误（字段个数与表头不一致或无法解析）：{detail}"),
}
