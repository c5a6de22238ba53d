// probed console: keeps the count of drafts and the dashboard's draft list
// current without a reload. It polls /admin/drafts.json every few seconds;
// when the set of drafts changed, it fetches the dashboard again and swaps
// in its draft list (not while the operator is typing in it).
(function () {
  "use strict";
  var every = 5000;
  function ids(list) {
    return list.map(function (d) { return String(d.id); }).join(",");
  }
  function show(n) {
    var c = document.getElementById("draft-count");
    if (c) c.textContent = n ? " (" + n + ")" : "";
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (n) document.title = "(" + n + ") " + document.title;
  }
  function swap(list) {
    var sec = document.getElementById("drafts");
    if (!sec || sec.getAttribute("data-ids") === ids(list)) return null;
    var a = document.activeElement;
    if (a && a !== document.body && sec.contains(a)) return null; // typing a reason
    return fetch(location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("drafts");
        var cur = document.getElementById("drafts");
        if (fresh && cur) cur.replaceWith(document.importNode(fresh, true));
      });
  }
  function tick() {
    fetch("/admin/drafts.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) { show(data.drafts.length); return swap(data.drafts); })
      .catch(function () {})
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
