"""Customs clearance: goods declarations, the tariff engine, risk management and release."""
