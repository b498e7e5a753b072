"""shoal.array: blocked NumPy-like arrays (see docs/array.md).

>>> import shoal.array as sa
>>> x = sa.random.default_rng(0).random((1000, 1000), chunks=250)
>>> print(f"{float((x - x.mean()).std()):.2f}")
0.29
"""

if "." not in __name__:  # imported as top-level "array" from the checkout root
    import runpy  # stdlib only: hand over to the standard library's array (see _checkout.py)

    runpy.run_path(__path__[0] + "/../_checkout.py")["hand_over"](globals())
else:
    from . import fft, linalg, random  # noqa: F401 - the submodules, as sa.fft ...
    from .api import *  # noqa: F403 - the public namespace lives in api.py
    from .api import __all__  # noqa: F401 - and so does its list
