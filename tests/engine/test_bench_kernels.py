"""Kernel counts from the optimised HLO (``brainsim.bench.kernel_counts`` / ``count_kernels``).

What counts is documented in :mod:`brainsim.bench`; these tests check the parser on a
known HLO text, that a train step has kernels inside its time loop, that a brain with
more areas has more of them, and that counting is deterministic. No timing is asserted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import brainsim
from brainsim.bench import count_kernels, hlo_kernel_counts, kernel_counts

ONE_AREA = """
name: one
inputs: {x: 4, y: 2}
areas:
  a: {type: rnn, hidden: 8}
  out: {type: readout, size: 2, costs: {supervised: {target: y}}}
connections:
  - x -> a.input
  - a.h -> out.input
"""

TWO_AREAS = """
name: two
inputs: {x: 4, y: 2}
areas:
  a: {type: rnn, hidden: 8}
  b: {type: rnn, hidden: 8}
  out: {type: readout, size: 2, costs: {supervised: {target: y}}}
connections:
  - x -> a.input
  - a.h -> b.input
  - b.h -> out.input
"""

HLO = """HloModule jit_f, entry_computation_layout={(f32[4]{0})->f32[4]{0}}

%fused_computation (param_0: f32[4]) -> f32[4] {
  %param_0 = f32[4]{0} parameter(0)
  %tanh.0 = f32[4]{0} tanh(%param_0)
  ROOT %add.0 = f32[4]{0} add(%tanh.0, %tanh.0)
}

%body (arg: (s32[], f32[4])) -> (s32[], f32[4]) {
  %arg = (s32[], f32[4]{0}) parameter(0)
  %i = s32[] get-tuple-element(%arg), index=0
  %x = f32[4]{0} get-tuple-element(%arg), index=1
  %one = s32[] constant(1)
  %next = s32[] add(%i, %one)
  %f = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused_computation
  %c = f32[4]{0} copy(%f)
  ROOT %t = (s32[], f32[4]{0}) tuple(%next, %c)
}

%cond (arg.1: (s32[], f32[4])) -> pred[] {
  %arg.1 = (s32[], f32[4]{0}) parameter(0)
  %i.1 = s32[] get-tuple-element(%arg.1), index=0
  %n = s32[] constant(10)
  ROOT %lt = pred[] compare(%i.1, %n), direction=LT
}

ENTRY %main (p: f32[4]) -> f32[4] {
  %p = f32[4]{0} parameter(0)
  %zero = s32[] constant(0)
  %init = (s32[], f32[4]{0}) tuple(%zero, %p)
  %w = (s32[], f32[4]{0}) while(%init), condition=%cond, body=%body
  %out = f32[4]{0} get-tuple-element(%w), index=1
  ROOT %neg = f32[4]{0} negate(%out)
}
"""


def _load(tmp_path, text, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return brainsim.load(str(path))


def test_parser_counts_body_kernels_per_step_and_the_rest_outside():
    # body: add (counter), fusion (one kernel, its insides not counted), copy; the condition is not counted
    assert hlo_kernel_counts(HLO) == {"per_step": 3, "outside": 1, "while_loops": 1}


def test_count_kernels_of_a_jitted_scan_finds_the_loop():
    def f(x):
        def body(c, _):
            c = jnp.tanh(c @ c) + 1.0
            return c, jnp.sum(c)
        return jax.lax.scan(body, x, None, length=7)

    counts = count_kernels(jax.jit(f), jnp.ones((3, 3)))
    assert counts["while_loops"] == 1 and counts["per_step"] >= 1


def test_train_step_has_kernels_inside_its_time_loop(tmp_path):
    counts = kernel_counts(_load(tmp_path, ONE_AREA, "one"), batch=2, time_steps=5)
    assert counts["per_step"] > 0 and counts["outside"] > 0
    assert counts["while_loops"] >= 2  # the scan and its transpose (the backward pass)


def test_a_brain_with_more_areas_has_more_kernels_per_step(tmp_path):
    one = kernel_counts(_load(tmp_path, ONE_AREA, "one"), batch=2, time_steps=5, check_finite=False)
    two = kernel_counts(_load(tmp_path, TWO_AREAS, "two"), batch=2, time_steps=5, check_finite=False)
    assert two["per_step"] > one["per_step"]


def test_kernel_counting_is_deterministic(tmp_path):
    brain = _load(tmp_path, TWO_AREAS, "two")
    first = kernel_counts(brain, batch=2, time_steps=5)
    again = kernel_counts(brain, batch=2, time_steps=5)
    fresh = kernel_counts(_load(tmp_path, TWO_AREAS, "two"), batch=2, time_steps=5)
    assert first == again == fresh
