"""emcomm: an emergency-communications coordination mesh.

Every surviving link (Tiantong, HTS, Beidou short message, LEO, cellular, fibre,
radio, UAV relay) is a weighted edge in one graph; relay nodes carry messages hop
by hop by priority; drills replay real disasters with the same node code.
"""

__version__ = "0.1.0"
