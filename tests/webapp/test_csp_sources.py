"""The sources behind the strict Content-Security-Policy (script-src and style-src 'self'): no template
carries an inline <style>, style="" attribute, inline <script> or on* handler, and no frontend module writes
style attributes or HTML markup (CSSOM assignments such as el.style.left are allowed by the policy).
The browser test (tests/browser/test_security_browser.py) proves the pages themselves; this catches a
regression in a template the browser test does not open."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

TEMPLATE_RULES = {
    "inline <style>": re.compile(r"<style[\s>]", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "inline handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
}
SCRIPT_RULES = {
    "style attribute": re.compile(r"setAttribute\(\s*[\"']style[\"']|[\"']style[\"']\s*:|cssText"),
    "markup": re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write"),
}


def offences(files: list[Path], rules: dict[str, re.Pattern[str]]) -> list[str]:
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [
                f"{path.relative_to(REPO)}:{number}: {name}"
                for name, rule in rules.items()
                if rule.search(line)
            ]
    return found


def test_templates_have_no_inline_styles_or_scripts() -> None:
    templates = sorted((REPO / "templates").rglob("*.html"))
    assert templates
    assert offences(templates, TEMPLATE_RULES) == []


def test_frontend_writes_no_style_attributes_or_markup() -> None:
    modules = sorted((REPO / "frontend" / "src").glob("*.js"))
    assert modules
    assert offences(modules, SCRIPT_RULES) == []


def test_the_rules_catch_what_the_policy_blocks() -> None:
    samples = {
        '<p style="color: red">': "style attribute",
        "<style>p { color: red }</style>": "inline <style>",
        '<button onclick="window.print()">': "inline handler",
        "<script>alert(1)</script>": "inline <script>",
    }
    for markup, name in samples.items():
        assert TEMPLATE_RULES[name].search(markup), markup
    assert not any(
        rule.search('<script type="module" src="/static/dist/report.js"></script>')
        for rule in TEMPLATE_RULES.values()
    )
    assert SCRIPT_RULES["style attribute"].search('node.setAttribute("style", "left: 0")')
    assert SCRIPT_RULES["markup"].search("list.innerHTML = html")
    assert not SCRIPT_RULES["style attribute"].search("m.style.left = `${mark.left}%`;")
