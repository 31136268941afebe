"""placeholder"""
def jit(fn, backend=None):
    raise NotImplementedError
def value_and_grad(fn, argnums=0):
    raise NotImplementedError
