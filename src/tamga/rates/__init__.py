"""Exchange rates of the Bank of Russia and the National Bank of Belarus: importers, storage by date, conversion."""
