"""Rules for parties: tax identifiers of both states, AEO status, vehicles and seals. No I/O."""

from __future__ import annotations

import re
from enum import StrEnum

from stdnum import exceptions as stdnum_errors
from stdnum.by import unp
from stdnum.ru import inn, ogrn

from tamga.kit.errors import FieldError

UNION_STATES = ("RU", "BY")
KPP_PATTERN = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")
PLATE_PATTERN = re.compile(r"^[0-9A-Z\u0400-\u04FF -]{4,12}$")


class AeoStatus(StrEnum):
    """Authorised economic operator certificates of the EAEU Customs Code, art. 433."""

    NONE = "none"
    TYPE1 = "type1"  # simplifications in customs procedures
    TYPE2 = "type2"  # simplifications in customs control
    TYPE3 = "type3"  # both


class SealOperator(StrEnum):
    """National operators of navigation seals, recognised by both states since 27 January 2025."""

    RU = "RU"
    BY = "BY"


class SealProtocol(StrEnum):
    EGTS = "egts"
    WIALON_IPS = "wialon_ips"
    MQTT = "mqtt"
    HTTP = "http"


class SealStatus(StrEnum):
    AVAILABLE = "available"
    ARMED = "armed"
    BROKEN = "broken"
    DECOMMISSIONED = "decommissioned"


def _stdnum_reason(exc: stdnum_errors.ValidationError) -> str:
    if isinstance(exc, stdnum_errors.InvalidChecksum):
        return "check digit is wrong"
    if isinstance(exc, stdnum_errors.InvalidLength):
        return "wrong length"
    if isinstance(exc, stdnum_errors.InvalidFormat):
        return "wrong format"
    return str(exc) or "invalid"


def tax_id_errors(country: str, tax_id: str, field: str) -> list[FieldError]:
    """Give what is wrong with a tax identifier: an INN (10 or 12 digits) in Russia, a UNP in Belarus."""
    try:
        if country == "RU":
            inn.validate(tax_id)
        elif country == "BY":
            unp.validate(tax_id)
        else:
            return [FieldError(field, f"tax identifiers are checked for RU and BY only, not {country}")]
    except stdnum_errors.ValidationError as exc:
        kind = "INN" if country == "RU" else "UNP"
        return [FieldError(field, f"not a valid {kind}: {_stdnum_reason(exc)}")]
    return []


def operator_errors(
    country: str, tax_id: str, kpp: str | None, ogrn_number: str | None, prefix: str = "body"
) -> list[FieldError]:
    """Give every fault in an operator's identifiers, for both states' rules."""
    errors = tax_id_errors(country, tax_id, f"{prefix}.tax_id")
    if country == "RU":
        is_legal_entity = len(tax_id) == 10
        if is_legal_entity and not kpp:
            errors.append(FieldError(f"{prefix}.kpp", "a Russian organisation (10-digit INN) needs a KPP"))
        if kpp and not KPP_PATTERN.match(kpp):
            errors.append(
                FieldError(f"{prefix}.kpp", "a KPP is 9 characters: 4 digits, 2 digits or letters, 3 digits")
            )
        if ogrn_number:
            try:
                ogrn.validate(ogrn_number)
            except stdnum_errors.ValidationError as exc:
                errors.append(FieldError(f"{prefix}.ogrn", f"not a valid OGRN: {_stdnum_reason(exc)}"))
    else:
        if kpp:
            errors.append(FieldError(f"{prefix}.kpp", "a KPP exists only for Russian organisations"))
        if ogrn_number:
            errors.append(FieldError(f"{prefix}.ogrn", "an OGRN exists only for Russian organisations"))
    return errors


def normalise_plate(plate: str) -> str:
    """Give a plate in the form it is compared in: upper case, no spaces or dashes."""
    return re.sub(r"[\s-]", "", plate.upper())
