"""Renderings of a report: nothing here grades, and everything here reads only
``nngrade.grader.report`` (the typed result) and writes text, files or bundles.

``text`` (terminal), ``feedback`` (Markdown and HTML pages), ``gradebook`` (CSV),
``gradescope`` (results.json), ``classroom`` (GitHub Classroom), ``summary`` (pass rates,
histogram, free-text answers), ``outdir`` (the ``--out`` folder), ``export`` (the Gradescope
autograder bundle), ``html_table`` (the table ``nngrade.check()`` shows in a notebook).
"""
