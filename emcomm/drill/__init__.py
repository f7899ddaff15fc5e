"""emcomm.drill"""
