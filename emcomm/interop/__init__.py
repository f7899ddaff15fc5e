"""emcomm.interop"""
