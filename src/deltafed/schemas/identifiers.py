"""National identifiers with their check characters, as validated types.

* :data:`ResidentId` - resident identity number, GB 11643-1999, ISO 7064 MOD 11-2.
* :data:`CreditCode` - unified social credit code, GB 32100-2015, MOD 31, with the embedded
  GB 11714 organisation code and its own MOD 11 check.
* :data:`CertificateId` - electronic certificate identifier, GB/T 36904, ISO 7064 MOD 37,36.
* :data:`DivisionCode` - administrative division code, GB/T 2260 (the table in this module).
* :class:`MemberId` - a federation member: region / department / system.

Each has a ``parse_*`` / ``compute_*`` function for use outside a model. Outside a model the
functions raise :class:`~deltafed.IdentifierError`; inside a model the failure is reported with
the field's path. The pure check functions never read the time.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import date
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from deltafed._errors import IdentifierError

__all__ = [
    "CREDIT_CODE_CHARSET",
    "DELTA_PROVINCES",
    "DIVISIONS",
    "CertificateId",
    "CertificateTypeCode",
    "CreditCode",
    "DivisionCode",
    "MemberId",
    "ProvinceCode",
    "ResidentId",
    "certificate_type_of",
    "compute_certificate_check",
    "compute_credit_check",
    "compute_organisation_check",
    "compute_resident_check",
    "division_name",
    "parse_certificate_id",
    "parse_certificate_type_code",
    "parse_credit_code",
    "parse_division_code",
    "parse_holder_code",
    "parse_member_id",
    "parse_resident_id",
    "province_of",
]

# --- GB/T 2260 administrative divisions ------------------------------------------------------

#: Province-level divisions of the People's Republic of China (GB/T 2260), code -> name.
PROVINCES: Final[dict[str, str]] = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区",
    "710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区",
}  # fmt: skip

#: The four members of the Yangtze River Delta federation.
DELTA_PROVINCES: Final[dict[str, str]] = {
    code: PROVINCES[code] for code in ("310000", "320000", "330000", "340000")
}

#: Prefecture-level cities of the Delta provinces, and Shanghai's districts.
_DELTA_LOCAL: Final[dict[str, str]] = {
    # Shanghai: municipal districts
    "310101": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区",
    "310107": "普陀区", "310109": "虹口区", "310110": "杨浦区", "310112": "闵行区",
    "310113": "宝山区", "310114": "嘉定区", "310115": "浦东新区", "310116": "金山区",
    "310117": "松江区", "310118": "青浦区", "310120": "奉贤区", "310151": "崇明区",
    # Jiangsu
    "320100": "南京市", "320200": "无锡市", "320300": "徐州市", "320400": "常州市",
    "320500": "苏州市", "320600": "南通市", "320700": "连云港市", "320800": "淮安市",
    "320900": "盐城市", "321000": "扬州市", "321100": "镇江市", "321200": "泰州市",
    "321300": "宿迁市",
    # Zhejiang
    "330100": "杭州市", "330200": "宁波市", "330300": "温州市", "330400": "嘉兴市",
    "330500": "湖州市", "330600": "绍兴市", "330700": "金华市", "330800": "衢州市",
    "330900": "舟山市", "331000": "台州市", "331100": "丽水市",
    # Anhui
    "340100": "合肥市", "340200": "芜湖市", "340300": "蚌埠市", "340400": "淮南市",
    "340500": "马鞍山市", "340600": "淮北市", "340700": "铜陵市", "340800": "安庆市",
    "341000": "黄山市", "341100": "滁州市", "341200": "阜阳市", "341300": "宿州市",
    "341500": "六安市", "341600": "亳州市", "341700": "池州市", "341800": "宣城市",
}  # fmt: skip

#: Every division code this library knows, code -> name.
DIVISIONS: Final[dict[str, str]] = {**PROVINCES, **_DELTA_LOCAL}

_SIX_DIGITS = re.compile(r"[0-9]{6}")


def _fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(f"identifier_{kind}", message)


def _check_division(value: str) -> str:
    if not isinstance(value, str) or not _SIX_DIGITS.fullmatch(value):
        raise _fail("division_format", "division code must be 6 digits")
    if value not in DIVISIONS:
        raise _fail("division_unknown", f"unknown administrative division code {value}")
    return value


def _check_province(value: str) -> str:
    _check_division(value)
    if value not in PROVINCES:
        raise _fail("province", f"{value} is not a province-level division code")
    return value


def division_name(code: str) -> str:
    """The name of a known division code."""
    return DIVISIONS[parse_division_code(code)]


def province_of(code: str) -> str:
    """The province-level code of any 6-digit division code (first two digits + 0000)."""
    if not isinstance(code, str) or not _SIX_DIGITS.fullmatch(code[:6]):
        raise IdentifierError("division code must start with 6 digits", field="division")
    return code[:2] + "0000"


# --- GB 11643-1999 resident identity number --------------------------------------------------

_RESIDENT_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK: Final = "10X98765432"
_RESIDENT_BIAS: Final = ord("0") * sum(_RESIDENT_WEIGHTS)
_RESIDENT_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def compute_resident_check(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise IdentifierError("need exactly 17 digits", field="resident_id")
    # ASCII digits: each byte is 48 + its digit, so the weighted sum of the bytes less 48 times
    # the weights' sum is the weighted sum of the digits (a third of the time of int() each).
    total = sum(map(operator.mul, first17.encode("ascii"), _RESIDENT_WEIGHTS)) - _RESIDENT_BIAS
    return _RESIDENT_CHECK[total % 11]


def _check_resident(value: str) -> str:
    if not isinstance(value, str):
        raise _fail("resident_type", "resident identity number must be a string")
    value = value.upper()
    if len(value) != 18:
        raise _fail(
            "resident_length", f"resident identity number must be 18 characters, got {len(value)}"
        )
    if not _RESIDENT_SHAPE.fullmatch(value):
        raise _fail(
            "resident_charset", "resident identity number must be 17 digits and a digit or X"
        )
    # Old division codes stay valid inside old numbers: only the province must exist.
    if value[:2] + "0000" not in PROVINCES:
        raise _fail(
            "resident_division", f"unknown province code {value[:2]} in resident identity number"
        )
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise _fail("resident_birth_date", f"birth date {value[6:14]} is not a real date") from None
    if born.year < 1800:
        raise _fail("resident_birth_date", f"birth date {value[6:14]} is before 1800")
    if compute_resident_check(value[:17]) != value[17]:
        raise _fail("resident_check", "resident identity number check character does not match")
    return value


def parse_resident_id(value: str) -> str:
    """Validate and normalise (lowercase ``x`` -> ``X``) a resident identity number."""
    return _call(_check_resident, value, "resident_id")


# --- GB 32100-2015 unified social credit code ------------------------------------------------

#: The 31 characters of the unified social credit code (no I, O, S, V, Z).
CREDIT_CODE_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE: Final = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}
_CREDIT_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE: Final = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_CREDIT_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")


def compute_credit_check(first17: str) -> str:
    """The GB 32100 check character (MOD 31) for the first 17 characters."""
    if len(first17) != 17 or any(c not in _CREDIT_VALUE for c in first17):
        raise IdentifierError("need 17 characters of the credit code set", field="credit_code")
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def compute_organisation_check(first8: str) -> str:
    """The GB 11714 organisation code check character for its first 8 characters."""
    if len(first8) != 8 or any(c not in _ORG_VALUE for c in first8):
        raise IdentifierError("need 8 characters of 0-9 A-Z", field="organisation_code")
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _check_credit(value: str) -> str:
    if not isinstance(value, str):
        raise _fail("credit_type", "credit code must be a string")
    if len(value) != 18:
        raise _fail("credit_length", f"credit code must be 18 characters, got {len(value)}")
    return _check_credit_text(value)


# The credit codes on the wire are mostly those of a few hundred agencies (issuers, type
# codes' defining agencies), repeated in every message: valid ones are remembered. The check is
# a pure function of the text; only successes are cached (lru_cache keeps no exceptions), and
# the cache is bounded. Resident numbers, which differ per request, are not cached.
@functools.lru_cache(maxsize=4096)
def _check_credit_text(value: str) -> str:
    value = value.upper()
    if len(value) != 18:
        raise _fail("credit_length", f"credit code must be 18 characters, got {len(value)}")
    if not _CREDIT_SHAPE.fullmatch(value):
        raise _fail(
            "credit_charset",
            "credit code must use 0-9 and A-Y without I O S V Z, with digits in positions 3-8",
        )
    if compute_credit_check(value[:17]) != value[17]:
        raise _fail("credit_check", "credit code check character does not match")
    if compute_organisation_check(value[8:16]) != value[16]:
        raise _fail("credit_org_check", "embedded organisation code check character does not match")
    return value


def parse_credit_code(value: str) -> str:
    """Validate and normalise (upper case) a unified social credit code."""
    return _call(_check_credit, value, "credit_code")


# --- holder codes ----------------------------------------------------------------------------

#: Holder code types (GB/T 36903 CZZTDMLXDM): ``111`` resident identity number, ``001`` unified
#: social credit code. The values equal :class:`deltafed.schemas.common.HolderType`.
_HOLDER_CHECKS: Final = {"111": _check_resident, "001": _check_credit}


def _check_holder_code(value: str, holder_type: str) -> str:
    """Validate a holder code by its type, inside a model (raises a pydantic custom error)."""
    check = _HOLDER_CHECKS.get(str(holder_type))
    if check is None:
        raise _fail("holder_type", f"unknown holder code type {holder_type!r}")
    return check(value)


def parse_holder_code(value: str, holder_type: str) -> str:
    """Validate a holder code: a resident id for type ``111``, a credit code for ``001``."""
    result: str = _call(lambda v: _check_holder_code(v, holder_type), value, "holder_code")
    return result


# --- GB/T 36904 electronic certificate identifier --------------------------------------------

_CERT_ROOT: Final = "1.2.156.3005.2"
_ALNUM36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM_VALUE: Final = {c: i for i, c in enumerate(_ALNUM36)}
_CERT_SHAPE = re.compile(
    r"^1\.2\.156\.3005\.2\.(?P<type>[0-9A-Z]{18}[0-9]{3})\.(?P<issuer>[0-9A-Z]{18})"
    r"\.(?P<serial>[0-9A-Z]{1,64})\.(?P<version>[0-9]{3})\.(?P<check>[0-9A-Z])$"
)


_ALNUM_BODY = re.compile(r"[0-9A-Z]+")
#: Byte -> its value in 0-9 A-Z (0 for any other byte, which the pattern above refuses first).
_ALNUM_BYTE_VALUE: Final = bytes(_ALNUM_VALUE.get(chr(byte), 0) for byte in range(256))
#: One step of MOD 37,36: _MOD37_STEP[p][v] is the next p after a character of value v.
_MOD37_STEP: Final = tuple(
    tuple((2 * ((p + v) % 36 or 36)) % 37 for v in range(36)) for p in range(37)
)


def compute_certificate_check(type_code: str, issuer: str, serial: str, version: str) -> str:
    """The ISO 7064 MOD 37,36 check character over type + issuer + serial + version."""
    body = type_code + issuer + serial + version
    if not _ALNUM_BODY.fullmatch(body):
        raise IdentifierError("certificate id parts must be 0-9 A-Z", field="certificate_id")
    # p = 2 * ((p + value) mod 36, 36 for 0) mod 37 for each character, from p = 36: by table,
    # over the values as bytes (about a third of the time of the arithmetic per character).
    p = 36
    step = _MOD37_STEP
    for value in body.encode("ascii").translate(_ALNUM_BYTE_VALUE):
        p = step[p][value]
    return _ALNUM36[(37 - p) % 36]


def _check_certificate(value: str) -> str:
    if not isinstance(value, str):
        raise _fail("certificate_type", "certificate identifier must be a string")
    if len(value) > 160:
        raise _fail("certificate_length", "certificate identifier is longer than 160 characters")
    if not value.startswith(_CERT_ROOT + "."):
        raise _fail("certificate_root", f"certificate identifier must start with {_CERT_ROOT}.")
    m = _CERT_SHAPE.fullmatch(value)
    if m is None:
        raise _fail(
            "certificate_format",
            "certificate identifier must be root.type(21).issuer(18).serial.version(3).check",
        )
    for part, label in ((m["type"][:18], "type code"), (m["issuer"], "issuer code")):
        try:
            _check_credit(part)
        except PydanticCustomError:
            raise _fail(
                "certificate_embedded", f"the {label} does not hold a valid credit code"
            ) from None
    expected = compute_certificate_check(m["type"], m["issuer"], m["serial"], m["version"])
    if expected != m["check"]:
        raise _fail("certificate_check", "certificate identifier check character does not match")
    return value


def parse_certificate_id(value: str) -> str:
    """Validate an electronic certificate identifier."""
    return _call(_check_certificate, value, "certificate_id")


def certificate_type_of(certificate_id: str) -> str:
    """The 21-character certificate type code embedded in a valid certificate identifier."""
    return parse_certificate_id(certificate_id)[len(_CERT_ROOT) + 1 :][:21]


# --- GB/T 36903 certificate type code --------------------------------------------------------

_TYPE_CODE_SHAPE = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}[0-9]{3}$")


def _check_type_code(value: str) -> str:
    if not isinstance(value, str):
        raise _fail("type_code_type", "certificate type code must be a string")
    value = value.upper()
    if len(value) != 21:
        raise _fail(
            "type_code_length", f"certificate type code must be 21 characters, got {len(value)}"
        )
    if not _TYPE_CODE_SHAPE.fullmatch(value):
        raise _fail(
            "type_code_format",
            "certificate type code must be an 18-character credit code + 3 digits",
        )
    try:
        _check_credit(value[:18])
    except PydanticCustomError as exc:
        raise _fail(
            "type_code_credit", f"certificate type code: defining agency's {exc.message()}"
        ) from None
    return value


def parse_certificate_type_code(value: str) -> str:
    """Validate and normalise (upper case) a 21-character certificate type code."""
    return _call(_check_type_code, value, "type_code")


def parse_division_code(value: str) -> str:
    """Validate an administrative division code against the known table."""
    return _call(_check_division, value, "division_code")


def _call(check: Any, value: Any, field: str) -> str:
    try:
        result: str = check(value)
    except PydanticCustomError as exc:
        raise IdentifierError(exc.message(), field=field) from exc
    return result


def _json_str(pattern: str, description: str) -> WithJsonSchema:
    # JSON Schema patterns are ECMA-262: no Python-only named groups.
    portable = re.sub(r"\(\?P<[a-z]+>", "(", pattern)
    return WithJsonSchema({"type": "string", "pattern": portable, "description": description})


ResidentId = Annotated[
    str,
    AfterValidator(_check_resident),
    _json_str(
        r"^[0-9]{17}[0-9Xx]$",
        "Resident identity number (GB 11643-1999), check character ISO 7064 MOD 11-2.",
    ),
]
CreditCode = Annotated[
    str,
    AfterValidator(_check_credit),
    _json_str(
        r"^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$",
        "Unified social credit code (GB 32100-2015), check character MOD 31.",
    ),
]
CertificateId = Annotated[
    str,
    AfterValidator(_check_certificate),
    _json_str(
        _CERT_SHAPE.pattern,
        "Electronic certificate identifier (GB/T 36904), check character ISO 7064 MOD 37,36.",
    ),
]
CertificateTypeCode = Annotated[
    str,
    AfterValidator(_check_type_code),
    _json_str(
        _TYPE_CODE_SHAPE.pattern,
        "Certificate type code (GB/T 36903): the defining agency's credit code + 3 digits.",
    ),
]
DivisionCode = Annotated[
    str,
    AfterValidator(_check_division),
    _json_str(r"^[0-9]{6}$", "Administrative division code (GB/T 2260)."),
]
ProvinceCode = Annotated[
    str,
    AfterValidator(_check_province),
    _json_str(r"^[0-9]{2}0000$", "Province-level administrative division code (GB/T 2260)."),
]


# --- federation member identifier ------------------------------------------------------------

_SLUG = r"[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?"
#: The region of a member id: one of the province-level codes of :data:`PROVINCES`, spelled
#: out so that the JSON Schema pattern alone decides what the code decides (protocol §1).
_REGION = "(?:" + "|".join(sorted(code[:2] for code in PROVINCES)) + ")0000"
# Anchored for the JSON Schema (ECMA-262, where $ is the end of input); Python code uses
# fullmatch, so a final newline is refused by both.
_MEMBER_SHAPE = re.compile(rf"^{_REGION}/{_SLUG}(?:/{_SLUG})?$")


class MemberId(str):
    """A federation member, written ``REGION/DEPARTMENT[/SYSTEM]``.

    ``REGION`` is a province-level division code (``310000`` for Shanghai); ``DEPARTMENT`` and
    ``SYSTEM`` are lower-case slugs, after X-Road's member and subsystem. Example:
    ``320000/gongan/hukou`` - the household registration system of Jiangsu public security.
    A ``MemberId`` is a ``str`` so it compares, hashes and serialises as its text.
    """

    __slots__ = ()

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise _fail("member_type", "member id must be a string")
        if len(value) > 128:
            raise _fail("member_length", "member id is longer than 128 characters")
        m = _MEMBER_SHAPE.fullmatch(value)
        if m is None:
            raise _fail(
                "member_format",
                "member id must be REGION/DEPARTMENT[/SYSTEM]: a province-level division code "
                "and lower-case slugs",
            )
        return cls(value)

    @classmethod
    def of(cls, region: str, department: str, system: str | None = None) -> Self:
        text = f"{region}/{department}" + (f"/{system}" if system else "")
        result: Self = _call_member(cls, text)
        return result

    @property
    def region(self) -> str:
        return self.split("/")[0]

    @property
    def department(self) -> str:
        return self.split("/")[1]

    @property
    def system(self) -> str | None:
        parts = self.split("/")
        return parts[2] if len(parts) > 2 else None

    @property
    def organisation(self) -> MemberId:
        """The member without its system part: ``REGION/DEPARTMENT``."""
        return MemberId("/".join(self.split("/")[:2]))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": _MEMBER_SHAPE.pattern,
            "maxLength": 128,
            "description": "Federation member id REGION/DEPARTMENT[/SYSTEM].",
        }


def _call_member(cls: type[MemberId], value: object) -> Any:
    try:
        return cls.parse(value)
    except PydanticCustomError as exc:
        raise IdentifierError(exc.message(), field="member_id") from exc


def parse_member_id(value: str) -> MemberId:
    """Validate a federation member id."""
    result: MemberId = _call_member(MemberId, value)
    return result
