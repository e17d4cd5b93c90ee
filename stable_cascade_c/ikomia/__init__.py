"""A drop-in for the parts of the Ikomia API that ``infer_stable_cascade`` scripts use.

Change only the imports of such a script::

    from stable_cascade_c.ikomia.dataprocess.workflow import Workflow
    from stable_cascade_c.ikomia.utils.displayIO import display

and it runs on stable_cascade_c. Weights are found as described in :mod:`stable_cascade_c.weights`
(``STABLE_CASCADE_PRIOR`` / ``STABLE_CASCADE_DECODER`` / ``STABLE_CASCADE_DEVICE``, or the Hugging
Face cache).

Deliberate differences from Ikomia (each a bug there):
- after a run the task has exactly one output per image: no empty trailing output and no
  outputs left over from earlier runs;
- the seed drawn for ``seed=-1`` is kept (``task.seed``) as well as printed;
- out-of-range values (steps < 1, sizes < 128, ...) raise ``RuntimeError`` at ``set_parameters``
  time instead of failing deep inside a run;
- ``cuda="False"`` selects the CPU (Ikomia parses and ignores it).
"""
