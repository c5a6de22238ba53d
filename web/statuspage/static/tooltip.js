// Progressive enhancement only. Bars with something to report carry their
// text in a title attribute; this shows it at once in a styled box instead
// of the browser's delayed tooltip. A plain day (up all day, no incident)
// has no title, to keep big pages small: its text is its date (from the
// row's first day and the bar's position) and the page's "100% uptime".
(function () {
  var tip = null, cur = null, body = document.body;
  var fmt = new Intl.DateTimeFormat(body.dataset.lang === 'ja' ? 'ja-JP' : 'en-US',
    {year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC'});
  function text(el) {
    if (el.dataset.tip) return el.dataset.tip;
    var t = el.getAttribute('title');
    if (t) { el.removeAttribute('title'); }
    else {
      var row = el.parentNode, first = Date.parse(row.dataset.first + 'T00:00:00Z');
      var i = Array.prototype.indexOf.call(row.children, el);
      t = fmt.format(new Date(first + i * 86400000)) + '\n' + body.dataset.plain;
    }
    el.dataset.tip = t;
    return t;
  }
  function show(el) {
    if (!tip) { tip = document.createElement('div'); tip.id = 'tip'; tip.setAttribute('role', 'tooltip'); body.appendChild(tip); }
    tip.textContent = text(el);
    tip.style.display = 'block';
    var r = el.getBoundingClientRect();
    var left = window.scrollX + r.left + r.width / 2 - tip.offsetWidth / 2;
    left = Math.max(window.scrollX + 8, Math.min(left, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8));
    tip.style.left = left + 'px';
    tip.style.top = (window.scrollY + r.bottom + 8) + 'px';
    cur = el;
  }
  function hide() { if (tip) { tip.style.display = 'none'; } cur = null; }
  document.addEventListener('mouseover', function (e) {
    var el = e.target.closest && e.target.closest('.bars i');
    if (el) { show(el); } else if (cur) { hide(); }
  });
})();
