"""An example brainsim plugin package (see examples/plugin/pyproject.toml for its entry points).

* ``brainsim_example_plugin.areas``: the area type ``leaky_integrator``;
* ``brainsim_example_plugin.costs``: the generic cost term ``huber``;
* ``brainsim_example_plugin.rules``: the learning rule ``sign_sgd``;
* ``brainsim_example_plugin.tasks``: the task ``noisy_step``;
* ``brainsim_example_plugin.noisy_step``: the scenario ``noisy_step`` (wiring ``noisy_step.yaml``).

Importing this package imports nothing: brainsim imports each module through its entry point.
"""
