"""Chaos and soak harness: a real mesh of `emcomm node` processes on loopback, traffic of
every priority, a seeded fault schedule, and a checker of the mesh's promises over the full
history of what was sent and what was delivered (``emcomm chaos``).

Modules: ``plan`` (the mesh and its node configs), ``nemesis`` (the fault schedule),
``traffic`` (the load schedule), ``history`` (what happened, as records), ``checker`` (the
invariants and figures), ``soak`` (RSS and store size over time), ``procs`` (the node
processes), ``runner`` (puts it together), ``report`` (tables).
"""
