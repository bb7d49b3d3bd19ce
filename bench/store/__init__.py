"""The run folder on disk: ``rundir.py`` owns its paths, its lock and the finished cells
(the only module that knows them); ``files.py`` writes files safely (a temporary name,
then an atomic rename). Written by ``bench.run``, read by ``bench.results``."""
