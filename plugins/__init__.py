"""Built-in plugins of specclassbench, installed as the ``bench_plugins`` package.

Each module registers its plugin classes through the public hooks in
``bench.hookspecs``, exactly as a third-party plugin would.
"""
