"""Per-student feedback pages: Markdown and HTML, from one template each (Jinja2).

Each item shows its points, what was expected and found (the grader's message), the hint,
and the free-text answers collected for review; then the figures the student's cells drew
(HTML only), the errors of the notebook's own run, or that it was not run as a whole.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from nngrade.grader.outputs.text import NOT_RUN
from nngrade.grader.report import SubmissionReport

if TYPE_CHECKING:
    import jinja2

_MARKDOWN = """\
# Feedback: {{ sub.exercise or "unknown exercise" }}{% if sub.student %} ({{ sub.student }}){% endif %}

{% if sub.errors -%}
**This notebook could not be graded.**
{% for e in sub.errors %}
- {{ e }}
{%- endfor %}
{%- else -%}
**Points: {{ "%g"|format(sub.score) }} / {{ "%g"|format(sub.max_score) }}**

| item | points | result |
|---|---|---|
{% for i in sub.items if i.status != "manual" -%}
| `{{ i.id }}` | {{ "%g"|format(i.score) }} / {{ "%g"|format(i.max_score) }} | {{ i.status }} |
{% endfor %}
{% for i in sub.items if i.status in ("failed", "error") %}
## `{{ i.id }}`: {{ i.status }}

{{ i.message }}
{% if i.hint %}
*Hint:* {{ i.hint }}
{% endif %}
{% endfor %}
{%- for i in sub.items if i.status == "manual" %}
## `{{ i.id }}`: for your instructor to read

{{ i.answer or "(not answered)" }}
{% endfor %}
{%- if sub.cell_errors %}
## Your notebook's own run

{% for e in sub.cell_errors -%}
- {{ e }}
{% endfor %}
{%- endif %}
{%- if not sub.executed %}

{{ not_run }}
{%- endif %}
{%- for p in sub.problems %}
- Note: {{ p }}
{%- endfor %}
{%- endif %}
"""

_HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Feedback: {{ sub.exercise or "unknown exercise" }}</title>
<style>
body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.4}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}
.passed{color:#1a7f37}.failed,.error{color:#b42318}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}
</style></head><body>
<h1>Feedback: {{ sub.exercise or "unknown exercise" }}{% if sub.student %} ({{ sub.student }}){% endif %}</h1>
{% if sub.errors %}
<p><strong>This notebook could not be graded.</strong></p>
<ul>{% for e in sub.errors %}<li>{{ e }}</li>{% endfor %}</ul>
{% else %}
<p><strong>Points: {{ "%g"|format(sub.score) }} / {{ "%g"|format(sub.max_score) }}</strong></p>
<table><tr><th>item</th><th>points</th><th>result</th><th>why</th></tr>
{% for i in sub.items if i.status != "manual" %}
<tr><td><code>{{ i.id }}</code></td><td>{{ "%g"|format(i.score) }} / {{ "%g"|format(i.max_score) }}</td>
<td class="{{ i.status }}">{{ i.status }}</td>
<td>{{ i.message }}{% if i.hint and i.status != "passed" %}<br><em>Hint:</em> {{ i.hint }}{% endif %}</td></tr>
{% endfor %}
</table>
{% for i in sub.items if i.status == "manual" %}
<h2><code>{{ i.id }}</code>: for your instructor to read</h2><pre>{{ i.answer or "(not answered)" }}</pre>
{% endfor %}
{% for i in sub.items if i.figure %}
<h2><code>{{ i.id }}</code>: the figure your cell drew</h2>
<img alt="the figure of {{ i.id }}, drawn on nngrade's inputs" src="data:image/png;base64,{{ i.figure }}">
{% endfor %}
{% if sub.cell_errors %}<h2>Your notebook's own run</h2>
<ul>{% for e in sub.cell_errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
{% if not sub.executed %}<p>{{ not_run }}</p>{% endif %}
{% if sub.problems %}<ul>{% for p in sub.problems %}<li>Note: {{ p }}</li>{% endfor %}</ul>{% endif %}
{% endif %}
</body></html>
"""


@functools.cache
def _template(source: str, autoescape: bool) -> "jinja2.Template":
    # compiled on first use, once per process: jinja2's import and the compile of both
    # templates cost about 60 ms, which a re-run whose pages are all current never pays
    import jinja2

    return jinja2.Environment(autoescape=autoescape,
                              keep_trailing_newline=True).from_string(source)


# What the pages never show: left out of their stamp, so that the same page has the same
# bytes however long its grading took (a template that comes to show one must drop it here)
_NOT_SHOWN = ("seconds", "timings", "notebook")


def stamp(sub: SubmissionReport) -> str:
    """The last line of both pages of ``sub``: a comment (invisible when rendered) naming a
    hash of what they are drawn from, the report (but ``_NOT_SHOWN``) and the templates. A
    page that ends with it is current (``outdir`` keeps it instead of rendering it again)."""
    shown = {k: v for k, v in asdict(sub).items() if k not in _NOT_SHOWN}
    drawn_from = hashlib.sha256(json.dumps([shown, _MARKDOWN, _HTML, NOT_RUN],
                                           sort_keys=True).encode())
    return f"<!-- nngrade-feedback {drawn_from.hexdigest()[:32]} -->\n"


def markdown(sub: SubmissionReport) -> str:
    """The feedback of one submission as Markdown."""
    return _template(_MARKDOWN, False).render(sub=sub, not_run=NOT_RUN) + "\n" + stamp(sub)


def html(sub: SubmissionReport) -> str:
    """The feedback of one submission as a standalone HTML page, with the figures the
    student's plot cells drew."""
    # student text and messages go into the page: escape everything
    return _template(_HTML, True).render(sub=sub, not_run=NOT_RUN) + stamp(sub)
