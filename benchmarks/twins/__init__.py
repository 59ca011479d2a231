"""Benchmark twins: the ``pbwm`` train step written by hand, outside brainsim's engine.

* :mod:`benchmarks.twins.hand_jax` — plain JAX (``lax.scan``, ``vmap``, ``optax.adam``),
* :mod:`benchmarks.twins.torch_eager` — PyTorch eager (optional: ``pip install torch``),
* :mod:`benchmarks.twins.bench` — times brainsim against both, interleaved, and counts
  compiled kernels per time step.

Each twin starts from brainsim's initial params (a converter reads brainsim's params
pytree into the twin's own plain dict of arrays) and computes the same loss, so
``tests/engine/test_twins.py`` can check that the losses agree step for step.
"""
