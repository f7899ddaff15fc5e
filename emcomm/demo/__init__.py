"""The one-command demo: a live mesh of real relay nodes through a scripted disaster, with the map.

``plan`` (which nodes and links, their configs), ``script`` (what the hazard does, when),
``traffic`` (who sends what, when), ``ledger`` (what was accepted, delivered, lost),
``situation`` (the recording), ``procs`` (child processes and the lock) and ``runner``
(the loop that ties them together). Nothing here is imported by the rest of emcomm.
"""
