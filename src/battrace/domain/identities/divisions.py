"""GB/T 2260 administrative divisions: the 34 province-level units.

Only the province level is kept: it is what a USCC (positions 3–4) and the platform's regional
statistics need. Prefecture and county codes change almost every year, so positions 5–8 of a
division code are checked for form only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Province:
    code: str  # 2-digit prefix, e.g. "11"
    division_code: str  # 6-digit GB/T 2260 code, e.g. "110000"
    name_zh: str
    name_en: str
    kind: str  # "province", "municipality", "autonomous region" or "SAR"


def _p(code: str, zh: str, en: str, kind: str) -> Province:
    return Province(code, code + "0000", zh, en, kind)


PROVINCES: tuple[Province, ...] = (
    _p("11", "北京市", "Beijing", "municipality"),
    _p("12", "天津市", "Tianjin", "municipality"),
    _p("13", "河北省", "Hebei", "province"),
    _p("14", "山西省", "Shanxi", "province"),
    _p("15", "内蒙古自治区", "Inner Mongolia", "autonomous region"),
    _p("21", "辽宁省", "Liaoning", "province"),
    _p("22", "吉林省", "Jilin", "province"),
    _p("23", "黑龙江省", "Heilongjiang", "province"),
    _p("31", "上海市", "Shanghai", "municipality"),
    _p("32", "江苏省", "Jiangsu", "province"),
    _p("33", "浙江省", "Zhejiang", "province"),
    _p("34", "安徽省", "Anhui", "province"),
    _p("35", "福建省", "Fujian", "province"),
    _p("36", "江西省", "Jiangxi", "province"),
    _p("37", "山东省", "Shandong", "province"),
    _p("41", "河南省", "Henan", "province"),
    _p("42", "湖北省", "Hubei", "province"),
    _p("43", "湖南省", "Hunan", "province"),
    _p("44", "广东省", "Guangdong", "province"),
    _p("45", "广西壮族自治区", "Guangxi", "autonomous region"),
    _p("46", "海南省", "Hainan", "province"),
    _p("50", "重庆市", "Chongqing", "municipality"),
    _p("51", "四川省", "Sichuan", "province"),
    _p("52", "贵州省", "Guizhou", "province"),
    _p("53", "云南省", "Yunnan", "province"),
    _p("54", "西藏自治区", "Xizang (Tibet)", "autonomous region"),
    _p("61", "陕西省", "Shaanxi", "province"),
    _p("62", "甘肃省", "Gansu", "province"),
    _p("63", "青海省", "Qinghai", "province"),
    _p("64", "宁夏回族自治区", "Ningxia", "autonomous region"),
    _p("65", "新疆维吾尔自治区", "Xinjiang", "autonomous region"),
    _p("71", "台湾省", "Taiwan", "province"),
    _p("81", "香港特别行政区", "Hong Kong", "SAR"),
    _p("82", "澳门特别行政区", "Macao", "SAR"),
)

_BY_PREFIX: dict[str, Province] = {p.code: p for p in PROVINCES}

#: Division code used by central (national-level) registration authorities, e.g. in the USCCs of
#: central government bodies (``111000000000…``). It is not a province.
NATIONAL_DIVISION_CODE = "100000"


def province_by_code(code_or_prefix: str) -> Province | None:
    """The province named by a 2-digit prefix or a 6-digit division code, else None.

    Anything that is not 2 or 6 ASCII digits is also None: callers have one "not a province" case.
    """
    if (
        isinstance(code_or_prefix, str)
        and len(code_or_prefix) in (2, 6)
        and code_or_prefix.isascii()
        and code_or_prefix.isdigit()
    ):
        return _BY_PREFIX.get(code_or_prefix[:2])
    return None


def province_of_uscc(uscc: str) -> Province | None:
    """The province of a USCC's registration authority (positions 3–4); None for national level.

    The USCC is validated first (raises :class:`IdentityError`).
    """
    from battrace.domain.identities.uscc import validate_uscc  # uscc imports this module

    return _BY_PREFIX.get(validate_uscc(uscc)[2:4])
