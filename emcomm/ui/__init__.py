"""emcomm.ui"""
