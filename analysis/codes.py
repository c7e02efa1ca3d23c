"""Moved to ``xorsweep.kernels.codes`` (the sweep engine uses it too); re-exported here."""
from xorsweep.kernels.codes import (CONSTANT_CODES, GATE2_NAMES, GATE3_NAMES, ROW_WEIGHTS, UNIT_CF_NAMES,  # noqa: F401
                                    UNIT_NAMES, combos, depends_on, gate_name, permute_table, table_index, unit_code)
