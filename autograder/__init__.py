"""Autograder for the course: release generation, hidden tests, the grader CLI and nbgrader glue."""
