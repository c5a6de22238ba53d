// Progressive enhancement only: the bars carry their text in title
// attributes; this shows it at once in a styled box instead of the
// browser's delayed tooltip. The page works the same without it.
(function () {
  var tip = null, cur = null;
  function show(el) {
    if (!el.dataset.tip) { el.dataset.tip = el.getAttribute('title') || ''; el.removeAttribute('title'); }
    if (!tip) { tip = document.createElement('div'); tip.id = 'tip'; tip.setAttribute('role', 'tooltip'); document.body.appendChild(tip); }
    tip.textContent = el.dataset.tip;
    var r = el.getBoundingClientRect();
    tip.style.display = 'block';
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
  document.addEventListener('focusin', function (e) { if (e.target.matches && e.target.matches('.bars i')) show(e.target); });
  document.addEventListener('focusout', hide);
})();
