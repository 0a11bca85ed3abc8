"""The second floor: processes, results, SEQ/PAR, replicators, topologies,
placement and failure analysis, built on ``stbass._core``."""
