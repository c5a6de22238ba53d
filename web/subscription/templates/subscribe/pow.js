// probed subscription pages: the proof of work the subscribe form needs
// (hashcash-style: find a counter so that SHA-256(challenge ":" counter)
// starts with data-bits zero bits), and the component checkboxes' helpers.
// Everything here is optional: without it the forms still work (see README).
(function () {
  'use strict';
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var W = new Uint32Array(64);

  // sha256 returns the first 32-bit word of the digest of an ASCII string
  // (enough to count up to 32 leading zero bits) and the second for more.
  function sha256(str) {
    var l = str.length, n = ((l + 9 + 63) >> 6) << 6, m = new Uint8Array(n), i, j;
    for (i = 0; i < l; i++) m[i] = str.charCodeAt(i);
    m[l] = 0x80;
    var bits = l * 8;
    m[n - 4] = bits >>> 24; m[n - 3] = bits >>> 16; m[n - 2] = bits >>> 8; m[n - 1] = bits;
    var h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a,
        h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (j = 0; j < n; j += 64) {
      for (i = 0; i < 16; i++) W[i] = (m[j + 4 * i] << 24) | (m[j + 4 * i + 1] << 16) | (m[j + 4 * i + 2] << 8) | m[j + 4 * i + 3];
      for (i = 16; i < 64; i++) {
        var x = W[i - 15], y = W[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    return [h0 >>> 0, h1 >>> 0];
  }

  function leadingZeros(words) {
    if (words[0] !== 0) return Math.clz32(words[0]);
    return 32 + Math.clz32(words[1]);
  }

  // solve searches in slices so the page stays responsive.
  function solve(challenge, bits, done) {
    var counter = 0;
    (function slice() {
      for (var end = counter + 20000; counter < end; counter++) {
        if (leadingZeros(sha256(challenge + ':' + counter)) >= bits) { done(String(counter)); return; }
      }
      setTimeout(slice, 0);
    })();
  }

  function boxes(form) { return form.querySelectorAll('input[type=checkbox][name=c]'); }

  function setAll(form, on) {
    boxes(form).forEach(function (b) { b.checked = on; });
    form.querySelectorAll('input.group').forEach(function (g) { g.checked = on; });
  }

  document.querySelectorAll('form').forEach(function (form) {
    if (!form.querySelector('input[name=c]')) return;
    form.querySelectorAll('.js-only').forEach(function (el) { el.hidden = false; });
    // Group boxes tick and untick their children; a child keeps its group's box honest.
    form.querySelectorAll('input.group').forEach(function (g) {
      g.addEventListener('change', function () {
        form.querySelectorAll('input[data-parent="' + g.dataset.group + '"]').forEach(function (c) { c.checked = g.checked; });
      });
    });
    boxes(form).forEach(function (c) {
      if (!c.dataset.parent) return;
      c.addEventListener('change', function () {
        var kids = form.querySelectorAll('input[data-parent="' + c.dataset.parent + '"]');
        var g = form.querySelector('input.group[data-group="' + c.dataset.parent + '"]');
        if (g) g.checked = Array.prototype.every.call(kids, function (k) { return k.checked; });
      });
    });
    var link = form.querySelector('#select-toggle');
    if (link) {
      link.addEventListener('click', function (ev) {
        ev.preventDefault();
        var on = link.dataset.on !== '1';
        setAll(form, on);
        link.dataset.on = on ? '1' : '0';
        link.textContent = on ? link.dataset.noneText : link.dataset.allText;
      });
    }
  });

  var form = document.getElementById('subscribe');
  if (!form) return;
  var status = document.getElementById('pow-status');
  form.addEventListener('submit', function (ev) {
    var sol = form.elements.solution;
    if (sol.value) return;
    ev.preventDefault();
    var bits = parseInt(form.dataset.bits, 10) || 0;
    if (status) status.textContent = '…';
    form.querySelector('button[type=submit]').disabled = true;
    solve(form.elements.challenge.value, bits, function (s) {
      sol.value = s;
      form.submit();
    });
  });
})();
