"""Reference data: countries, regions, currencies, customs offices, HS codes, exchange and tax rates."""
