"""Running a benchmark: plan the matrix, execute its training runs, write the run folder."""
