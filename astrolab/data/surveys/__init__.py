"""Survey schemas: canonical column names and units, column mapping, quality cuts, NaN policy,
unit conversion and the physical features computed from the columns."""
