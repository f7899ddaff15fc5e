"""emcomm.node"""
