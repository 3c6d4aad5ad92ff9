"""The HTML report's stylesheet and script, and the Content-Security-Policy that allows
exactly these two (by hash) and nothing else: no request can leave the page, and no text
from an image can run, even if an escaping bug let markup through.

The script only filters and sorts rows already in the page (data-* attributes) and never
writes markup (no innerHTML): the report reads the same with scripts blocked.
"""

from __future__ import annotations

import base64
import hashlib

BAR_STEPS = 100
"""Size bars are drawn by classes .w0 … .w100 (percent of the largest layer): a style
attribute would need 'unsafe-inline'."""

CSS = (
    """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#fff;--panel:#f5f7fa;
--critical:#8b1a1a;--high:#c2410c;--medium:#a16207;--low:#3f6212;--info:#475569;--base:#eef1f6}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 20px}
header{padding-top:16px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
td,th,dd,code,.where{overflow-wrap:anywhere;word-break:break-word}
.target{color:var(--muted);margin:0 0 12px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:8px 0 12px}
.verdict.fail{background:#fde8e8;color:var(--critical)}
.verdict.pass{background:#e7f5e9;color:#1f5130}
.verdict.incomplete{background:#fff4d6;color:#7a4d00}
dl.identity{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 10px}
dl.identity dt{color:var(--muted)}
dl.identity dd{margin:0}
ul.counts{list-style:none;padding:0;margin:0;display:flex;gap:8px;flex-wrap:wrap}
.sev{display:inline-block;min-width:4.8em;text-align:center;border-radius:4px;padding:0 6px;
color:#fff;font-size:12px;font-weight:600}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}
.sev.medium{background:var(--medium)}.sev.low{background:var(--low)}.sev.info{background:var(--info)}
.sev.none{background:#cbd2dc;color:var(--fg)}
nav{margin:14px 0 0;display:flex;gap:14px}
nav a{color:#1d4ed8}
table{border-collapse:collapse;width:100%;table-layout:auto}
#findings-table{table-layout:fixed}
#findings-table th:nth-child(1){width:7em}#findings-table th:nth-child(2){width:11%}
#findings-table th:nth-child(3){width:20%}#findings-table th:nth-child(4){width:20%}
#findings-table th:nth-child(5){width:8em}#findings-table th:nth-child(6){width:14%}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;position:sticky;top:0;white-space:nowrap}
#findings-table td:nth-child(1),#findings-table td:nth-child(5),
#hygiene-table td:nth-child(1){white-space:nowrap}
th[data-sort]{cursor:pointer;user-select:none}
th[data-sort]::after{content:" \\2195";color:var(--muted)}
th[aria-sort=ascending]::after{content:" \\2191"}th[aria-sort=descending]::after{content:" \\2193"}
tr.base td{background:var(--base)}
tr.base-head td{background:var(--base);font-weight:600;color:var(--muted);
border-top:2px solid #aab3c2}
tr.own-head td{font-weight:600;color:var(--muted);border-top:2px solid #aab3c2}
tr.empty td{color:var(--muted);font-size:12.5px;padding-top:2px;padding-bottom:2px}
td.num{text-align:right;white-space:nowrap}
.bar{background:#e4e8ef;border-radius:3px;height:10px;min-width:120px}
.bar span{display:block;height:10px;border-radius:3px;background:#4f6fad}
tr.base .bar span{background:#8d99ae}
.files .add{color:#166534}.files .chg{color:#92400e}.files .del{color:#991b1b}
.life{display:flex;gap:1px;min-width:120px;max-width:260px;margin:2px 0 4px}
.life i{flex:1;height:10px;background:#e4e8ef}
.life i.on{background:#4f6fad}.life i.w{background:var(--high)}.life i.x{background:#111}
.life i.b{outline:1px solid #aab3c2}
.note{color:var(--muted);font-size:12.5px}
.controls{display:flex;gap:10px;flex-wrap:wrap;align-items:center;margin:6px 0 8px;
background:var(--panel);padding:8px;border-radius:6px}
.controls label{display:flex;gap:4px;align-items:center}
details summary{cursor:pointer;color:#1d4ed8}
pre{background:var(--panel);padding:10px;border-radius:6px;overflow:auto;white-space:pre-wrap}
.ctl{color:#b91c1c;font-family:ui-monospace,monospace}
footer{color:var(--muted);margin-top:30px;padding-bottom:30px;font-size:12.5px}
"""
    + "".join(f".w{n}{{width:{n}%}}" for n in range(BAR_STEPS + 1))
    + "\n"
)

SCRIPT = """
(function () {
  "use strict";
  var RANK = {critical: 4, high: 3, medium: 2, low: 1, info: 0};
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.finding"));
  var controls = {
    severity: document.getElementById("filter-severity"),
    rule: document.getElementById("filter-rule"),
    status: document.getElementById("filter-status"),
    layer: document.getElementById("filter-layer"),
    text: document.getElementById("filter-text")
  };
  var count = document.getElementById("visible-count");

  function shown(row) {
    var d = row.dataset;
    var least = controls.severity ? controls.severity.value : "";
    if (least && RANK[d.severity] < RANK[least]) { return false; }
    if (controls.rule && controls.rule.value && d.rule !== controls.rule.value) { return false; }
    if (controls.status && controls.status.value && d.status !== controls.status.value) {
      return false;
    }
    if (controls.layer && controls.layer.value !== "") {
      var layer = controls.layer.value === "-" ? "" : controls.layer.value;
      if (d.layer !== layer) { return false; }
    }
    var needle = controls.text ? controls.text.value.toLowerCase() : "";
    if (needle && row.textContent.toLowerCase().indexOf(needle) < 0) { return false; }
    return true;
  }

  function apply() {
    var visible = 0;
    rows.forEach(function (row) {
      var keep = shown(row);
      row.hidden = !keep;
      if (keep) { visible += 1; }
    });
    if (count) { count.textContent = visible + " of " + rows.length + " shown"; }
  }

  Object.keys(controls).forEach(function (name) {
    var control = controls[name];
    if (control) { control.addEventListener(name === "text" ? "input" : "change", apply); }
  });

  function key(row, column) {
    var d = row.dataset;
    if (column === "severity") { return -RANK[d.severity]; }
    if (column === "layer") { return d.layer === "" ? 1e9 : Number(d.layer); }
    return (d[column] || "").toLowerCase();
  }

  Array.prototype.forEach.call(document.querySelectorAll("th[data-sort]"), function (th) {
    th.addEventListener("click", function () {
      var column = th.dataset.sort;
      var body = th.closest("table").tBodies[0];
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(th.parentNode.children, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var sorted = Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = key(a, column), y = key(b, column);
        var order = x < y ? -1 : (x > y ? 1 : Number(a.dataset.order) - Number(b.dataset.order));
        return ascending ? order : -order;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });

  apply();
  document.body.dataset.ready = "1";
})();
"""


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src {_hash(CSS)}; "
    f"script-src {_hash(SCRIPT)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)
"""Only the page's own stylesheet and script, by hash; nothing may be fetched, framed,
submitted or based elsewhere. (frame-ancestors and sandbox are ignored in a meta tag, and
would only log an error.)"""
