"""site_builder.accel.highlighting's memos leave highlighted code exactly as Pygments makes it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SNIPPETS = [
    "```python\ndef f(x):\n    return x * 2  # comment\n```",
    '```js\nconst a = `t${1}`;\nconsole.log("x");\n```',
    "```yaml\ntitle: A\ntags: [a, b]\n```",
    '```PYTHON hl_lines="2" linenums="3"\nimport os\nprint(os.sep)\n```',
    "```no-such-language\nplain <text> & more\n```",
    "```\nno language at all\n```",
    "`#!python print('inline')` and `#!rust fn main() {}`",
    '```bash title="run.sh"\necho "$HOME"\n```',
]
RENDER = """
import json, sys, markdown
if sys.argv[1] == "memo":
    from site_builder.accel import highlighting
    assert highlighting.install_lexer_lookup() and highlighting.install_stylesheet_memo()
extensions = ["pymdownx.highlight", "pymdownx.inlinehilite", "pymdownx.superfences"]
configs = {"pymdownx.highlight": {"anchor_linenums": True}}
md = markdown.Markdown(extensions=extensions, extension_configs=configs)
out = []
for snippet in json.loads(sys.stdin.read()):
    md.reset()
    out.append(md.convert(snippet))
    md.reset()
    out.append(md.convert(snippet))  # a second time: memo hits
print(json.dumps(out))
"""


def _render(mode: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", RENDER, mode],
        input=json.dumps(SNIPPETS),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_same_html_with_and_without_the_memos() -> None:
    plain, memo = _render("plain"), _render("memo")
    assert memo == plain
    assert any('class="highlight"' in html for html in plain)
    assert any("hll" in html for html in plain), "hl_lines highlighted"


def test_unknown_alias_still_raises() -> None:
    from pygments.util import ClassNotFound

    from site_builder.accel.highlighting import _get_lexer_by_name

    with pytest.raises(ClassNotFound):
        _get_lexer_by_name("no-such-language")
    with pytest.raises(ClassNotFound):
        _get_lexer_by_name("")
    assert type(_get_lexer_by_name("Python", stripnl=False)).__name__ == "PythonLexer"


def test_both_memos_are_taken_out_again() -> None:
    from pygments.formatters.html import HtmlFormatter
    from pymdownx import highlight

    from site_builder.accel import highlighting

    lookup, stylesheet = highlight.get_lexer_by_name, vars(HtmlFormatter)["_create_stylesheet"]
    undo = [highlighting.install_lexer_lookup(), highlighting.install_stylesheet_memo()]
    assert all(undo)
    assert highlight.get_lexer_by_name is not lookup
    formatter = HtmlFormatter(style="default")
    assert formatter.ttype2class == HtmlFormatter(style="default").ttype2class
    for step in reversed(undo):
        step()
    assert highlight.get_lexer_by_name is lookup
    assert vars(HtmlFormatter)["_create_stylesheet"] is stylesheet
