// The hierarchy rebuild's page, while a rebuild runs: reads its progress from this site twice
// a second and moves the page's progress bar, then loads the page again for the result.
// Without script the page's Refresh link does the same by hand. Runs with the page's nonce.
(function () {
  'use strict';
  var box = document.getElementById('rebuild-progress');
  if (!box || box.getAttribute('data-state') !== 'running') return;
  var bar = box.querySelector('progress');
  var count = box.querySelector('[data-count]');
  function tick() {
    fetch('/console/hierarchy-rebuild/progress', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('status ' + r.status);
        return r.json();
      })
      .then(function (p) {
        if (p.state !== 'running') {
          window.location.reload();
          return;
        }
        var total = Math.max(p.total, p.done);
        bar.max = total > 0 ? total : 1;
        bar.value = Math.min(p.done, bar.max);
        count.textContent = p.done + ' of ' + total + ' nodes checked';
        window.setTimeout(tick, 500);
      })
      .catch(function () { window.setTimeout(tick, 2000); });
  }
  window.setTimeout(tick, 300);
}());
