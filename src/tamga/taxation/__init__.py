"""Taxation of mutual trade: Annex 18 import applications, the exchange between tax authorities, 0% claims, the tax gap."""
