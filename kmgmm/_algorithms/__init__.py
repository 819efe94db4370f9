"""The algorithms, each written once: they drive passes of an engine
(``kmgmm._engines``) and finish every step on the client in NumPy from the
pass's sufficient statistics."""
