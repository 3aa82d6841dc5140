"""Request and response bodies for operators, vehicles and seals."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tamga.kit.schemas import Text
from tamga.parties.domain import AeoStatus, SealOperator, SealProtocol, SealStatus

Iso2 = Field(pattern=r"^[A-Z]{2}$")


class OperatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str = Field(pattern=r"^(RU|BY)$", description="RU or BY")
    name: Text = Field(min_length=1, max_length=300)
    tax_id: str = Field(min_length=9, max_length=12, description="INN (RU, 10 or 12 digits) or UNP (BY)")
    kpp: str | None = Field(default=None, max_length=9)
    ogrn: str | None = Field(default=None, max_length=15)
    address: Text = Field(default="", max_length=500)
    region: str | None = Field(default=None, pattern=r"^(RU|BY)-[A-Z0-9]{1,3}$")
    is_carrier: bool = False
    aeo_status: AeoStatus = AeoStatus.NONE
    aeo_certificate: Text | None = Field(default=None, max_length=50)


class Operator(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    country: str
    name: str
    tax_id: str
    kpp: str | None
    ogrn: str | None
    address: str
    region: str | None
    is_carrier: bool
    aeo_status: AeoStatus
    aeo_certificate: str | None
    created_at: dt.datetime


class VehicleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plate: Text = Field(min_length=2, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kind: str = Field(default="tractor", pattern=r"^(tractor|trailer|semi_trailer|rigid)$")
    carrier_id: int | None = Field(default=None, ge=1, le=2**62, description="administrators only")


class Vehicle(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    carrier_id: int
    plate: str
    country: str
    kind: str


class SealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: str = Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
    national_operator: SealOperator
    protocol: SealProtocol
    device_id: Text = Field(min_length=1, max_length=40, description="IMEI or terminal id")
    device_secret: str = Field(min_length=8, max_length=200, description="device credential; kept hashed")
    model: Text = Field(default="generic", max_length=60)
    carrier_id: int | None = Field(default=None, ge=1, le=2**62, description="administrators only")


class Seal(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    serial: str
    national_operator: SealOperator
    protocol: SealProtocol
    device_id: str
    model: str
    carrier_id: int
    status: SealStatus
